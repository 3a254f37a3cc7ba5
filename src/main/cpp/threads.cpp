// A small persistent thread pool. Our own rather than OpenMP: no second libgomp beside
// libtorch's, and a caller that finds the pool busy (another Java thread's job) simply runs its
// loop inline, so concurrent calls never deadlock or oversubscribe.
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "internal.h"

namespace fp {
namespace {

int default_threads() {
  if (const char* env = std::getenv("FITPRUNE_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set) > 0 ? CPU_COUNT(&set) : 1;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? (int)hc : 1;
}

// How long a worker keeps polling for the next job, and the caller for the last item, before
// sleeping on a condition variable. A decode step calls the pool about five times a layer with a
// few microseconds of Java between calls; waking a sleeping thread costs more than that (a 16-row
// decode attention call: 40 us through a sleeping pool, 13 us on one thread), so waits this short
// are spent polling, as OpenMP runtimes do.
constexpr int64_t kSpinNanos = 200000;

int64_t now_nanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Polls done() until it holds or kSpinNanos pass; true if it held.
template <class F>
bool spin_until(F&& done) {
  const int64_t t0 = now_nanos();
  for (int i = 1;; ++i) {
    if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (i % 64 == 0 && now_nanos() - t0 > kSpinNanos) return done();
  }
}

class Pool {
 public:
  std::mutex job_mu;  // held by the one caller whose job the pool runs
  std::atomic<int> size{1};

  void resize(int n) {  // job_mu held
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true);
    }
    start_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    stop_.store(false);
    // A new worker has seen every job so far: starting it at generation 0 made it take the last,
    // finished job for a new one and count itself done once too often (a hang or a worker still
    // draining after run() returned).
    for (int id = 1; id < n; ++id) threads_.emplace_back(&Pool::worker_loop, this, id, generation_.load());
    size = n;
  }

  void run(int64_t count, ItemFn fn, void* ctx, int workers) {  // job_mu held
    {
      // The job is published by the generation's increment (release); a worker that sees the new
      // generation (acquire) sees the job. Every worker has finished the last job: run() waited.
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = fn;
      ctx_ = ctx;
      count_ = count;
      limit_ = workers;
      next_.store(0, std::memory_order_relaxed);
      running_.store((int)threads_.size(), std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    start_cv_.notify_all();
    drain(0);
    if (spin_until([&] { return running_.load(std::memory_order_acquire) == 0; })) return;
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return running_.load(std::memory_order_acquire) == 0; });
  }

 private:
  std::mutex mu_;  // guards the sleeps: changes that wake a sleeper are made under it
  std::condition_variable start_cv_, done_cv_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  ItemFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t count_ = 0;
  int limit_ = 1;
  std::atomic<int64_t> next_{0};
  std::atomic<int> running_{0};

  void drain(int id) {
    if (id >= limit_) return;
    for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count_;) fn_(ctx_, i, id);
  }

  void worker_loop(int id, uint64_t seen) {
    for (;;) {
      auto ready = [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; };
      if (!spin_until(ready)) {
        std::unique_lock<std::mutex> lk(mu_);
        start_cv_.wait(lk, ready);
      }
      if (stop_.load()) return;
      seen = generation_.load(std::memory_order_acquire);
      drain(id);
      if (running_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // The caller may be about to sleep: taking mu_ orders this wake after its last check.
        { std::lock_guard<std::mutex> lk(mu_); }
        done_cv_.notify_one();
      }
    }
  }
};

Pool& pool() {
  // Never destroyed: workers block on a condition variable and die with the process.
  static Pool* p = [] {
    Pool* np = new Pool;
    std::lock_guard<std::mutex> lk(np->job_mu);
    np->resize(default_threads());
    return np;
  }();
  return *p;
}

}  // namespace

int max_workers() { return pool().size.load(); }

void parallel_for(int64_t count, ItemFn fn, void* ctx, int workers) {
  if (count <= 0) return;
  Pool& p = pool();
  if (count > 1 && workers > 1 && p.job_mu.try_lock()) {
    std::lock_guard<std::mutex> lk(p.job_mu, std::adopt_lock);
    p.run(count, fn, ctx, workers);
    return;
  }
  for (int64_t i = 0; i < count; ++i) fn(ctx, i, 0);
}

int set_threads(int n) {
  if (n <= 0) n = default_threads();
  Pool& p = pool();
  std::lock_guard<std::mutex> lk(p.job_mu);
  p.resize(n);
  return n;
}

}  // namespace fp
