package io.fitprune.decoder;

import java.util.ArrayList;
import org.bytedeco.pytorch.Tensor;

/**
 * Native tensors created for one step, released deterministically when it ends: leaving them to
 * the garbage collector made every prefill fault in fresh pages for all its temporaries (slow in
 * a VM), and kept memory high between collections.
 */
public final class Temps implements AutoCloseable {
  private final ArrayList<Tensor> list = new ArrayList<>();

  public Tensor add(Tensor t) {
    list.add(t);
    return t;
  }

  @Override
  public void close() {
    for (int i = list.size() - 1; i >= 0; i--) list.get(i).close();
    list.clear();
  }
}
