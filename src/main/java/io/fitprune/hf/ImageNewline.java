package io.fitprune.hf;

import io.fitprune.io.Checkpoint;
import io.fitprune.io.HalfFloats;
import io.fitprune.io.TensorInfo;
import io.fitprune.vision.VisionTensors;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * LLaVA-NeXT's {@code image_newline} parameter, the row appended after each row of an image's
 * feature map: {@code image_newline} at the top level in llava-hf's layout, {@code model.image_newline}
 * in the newer one, shape {@code [text hidden_size]}.
 */
public final class ImageNewline {
  private ImageNewline() {}

  /** The tensor's name in a checkpoint of this layout. */
  public static String name(VisionTensors.Layout layout) {
    if (layout == null) throw new IllegalArgumentException("layout is null");
    return layout == VisionTensors.Layout.LLAVA ? "model.image_newline" : "image_newline";
  }

  /** Checks the tensor is there, {@code [hidden]}; returns it. One-line errors naming the tensor and file. */
  public static TensorInfo check(Checkpoint ck, int hidden) {
    String name = name(VisionTensors.detect(ck));
    TensorInfo t = ck.tensors().get(name);
    if (t == null) throw new IllegalArgumentException("weights: " + ck.path() + " has no tensor '" + name + "'");
    long[] want = {hidden};
    if (!Arrays.equals(t.shape(), want))
      throw new IllegalArgumentException("weights: tensor '" + name + "' in " + ck.fileOf(name) + " must have shape "
          + Arrays.toString(want) + " (text_config hidden_size) for config.json, got " + t.shapeString());
    return t;
  }

  /** The values as float32 (F32 as stored; BF16 and F16 widened exactly); a non-finite value is an error. */
  public static float[] read(Checkpoint ck, int hidden) throws IOException {
    TensorInfo t = check(ck, hidden);
    ByteBuffer b = ck.bytes(t.name()).duplicate().order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[hidden];
    for (int i = 0; i < hidden; i++)
      out[i] = switch (t.dtype()) {
        case F32 -> b.getFloat(i * 4);
        case BF16 -> Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
        case F16 -> HalfFloats.f16ToFloat(b.getShort(i * 2));
        default -> throw new IllegalArgumentException("weights: tensor '" + t.name() + "' in " + ck.fileOf(t.name())
            + " is " + t.dtype() + "; expected F32, BF16 or F16");
      };
    for (int i = 0; i < hidden; i++)
      if (!Float.isFinite(out[i]))
        throw new IllegalArgumentException("weights: tensor '" + t.name() + "' in " + ck.fileOf(t.name())
            + " holds a non-finite value " + out[i] + " at " + i);
    return out;
  }
}
