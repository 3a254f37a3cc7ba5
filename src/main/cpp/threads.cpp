// A small persistent thread pool. Our own rather than OpenMP: no second libgomp beside
// libtorch's, and a caller that finds the pool busy (another Java thread's job) simply runs its
// loop inline, so concurrent calls never deadlock or oversubscribe.
#include <sched.h>

#include <atomic>
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

class Pool {
 public:
  std::mutex job_mu;  // held by the one caller whose job the pool runs
  std::atomic<int> size{1};

  void resize(int n) {  // job_mu held
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    start_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
    stop_ = false;
    // A new worker has seen every job so far: starting it at generation 0 made it take the last,
    // finished job for a new one and count itself done once too often (a hang or a worker still
    // draining after run() returned).
    for (int id = 1; id < n; ++id) threads_.emplace_back(&Pool::worker_loop, this, id, generation_);
    size = n;
  }

  void run(int64_t count, ItemFn fn, void* ctx, int workers) {  // job_mu held
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn_ = fn;
      ctx_ = ctx;
      count_ = count;
      limit_ = workers;
      next_.store(0);
      running_ = (int)threads_.size();
      ++generation_;
    }
    start_cv_.notify_all();
    drain(0);
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return running_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  std::vector<std::thread> threads_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  ItemFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t count_ = 0;
  int limit_ = 1;
  std::atomic<int64_t> next_{0};
  int running_ = 0;

  void drain(int id) {
    if (id >= limit_) return;
    for (int64_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count_;) fn_(ctx_, i, id);
  }

  void worker_loop(int id, uint64_t seen) {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      start_cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      lk.unlock();
      drain(id);
      lk.lock();
      if (--running_ == 0) done_cv_.notify_one();
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
