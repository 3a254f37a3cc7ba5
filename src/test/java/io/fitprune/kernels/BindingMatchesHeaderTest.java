package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.junit.jupiter.api.Test;

/**
 * {@link FitPruneNative} is the C API of {@code src/main/cpp/fitprune.h}, one to one: every
 * function declared there has exactly one native method of the same name, arity and argument
 * kinds (64-bit integer, 32-bit integer, string, pointer of the same element type), and back;
 * every enum constant has a Java constant of the same value. Parsed from the header, so a
 * function added on one side only fails here.
 */
class BindingMatchesHeaderTest {
  private static final Path HEADER = Path.of("src/main/cpp/fitprune.h");

  /** One C function: return and argument kinds, with the C types for messages and casts. */
  record CFunction(String name, String returns, List<String> params) {}

  @Test
  void everyFunctionIsBoundWithTheSameSignature() throws Exception {
    Map<String, CFunction> header = functions(Files.readString(HEADER));
    assertTrue(header.size() >= 30, "parsed only " + header.keySet());
    Map<String, Method> java = new TreeMap<>();
    for (Method m : FitPruneNative.class.getDeclaredMethods()) {
      if (!Modifier.isNative(m.getModifiers())) continue;
      Method twin = java.put(m.getName(), m);
      assertTrue(twin == null, "overloaded native method " + m.getName() + ": the binding is one to one");
    }
    List<String> problems = new ArrayList<>();
    for (String name : header.keySet())
      if (!java.containsKey(name)) problems.add(name + ": declared in fitprune.h, missing in FitPruneNative");
    for (String name : java.keySet())
      if (!header.containsKey(name)) problems.add(name + ": native method in FitPruneNative, not in fitprune.h");
    for (CFunction f : header.values()) {
      Method m = java.get(f.name());
      if (m == null) continue;
      String got = javaKind(m.getReturnType(), null), want = cKind(f.returns());
      if (!got.equals(want)) problems.add(f.name() + ": returns " + f.returns() + " (" + want + "), bound as " + got);
      Class<?>[] types = m.getParameterTypes();
      if (types.length != f.params().size()) {
        problems.add(f.name() + ": " + f.params().size() + " arguments in C, " + types.length + " in Java");
        continue;
      }
      for (int i = 0; i < types.length; i++) {
        Cast cast = null;
        for (var a : m.getParameterAnnotations()[i]) if (a instanceof Cast c) cast = c;
        String c = f.params().get(i), ck = cKind(c), jk = javaKind(types[i], cast);
        if (!ck.equals(jk)) problems.add(f.name() + " argument " + (i + 1) + ": " + c + " (" + ck + "), bound as "
            + types[i].getSimpleName() + (cast == null ? "" : " @Cast(" + String.join(",", cast.value()) + ")")
            + " (" + jk + ")");
      }
    }
    assertEquals(List.of(), problems);
  }

  @Test
  void everyEnumConstantHasTheSameValue() throws Exception {
    Map<String, Long> header = enumConstants(Files.readString(HEADER));
    assertTrue(header.size() >= 15, "parsed only " + header.keySet());
    List<String> problems = new ArrayList<>();
    for (var e : header.entrySet()) {
      Field f;
      try {
        f = FitPruneNative.class.getField(e.getKey());
      } catch (NoSuchFieldException missing) {
        problems.add(e.getKey() + " = " + e.getValue() + ": missing in FitPruneNative");
        continue;
      }
      long v = ((Number) f.get(null)).longValue();
      if (v != e.getValue()) problems.add(e.getKey() + ": " + e.getValue() + " in C, " + v + " in Java");
    }
    assertEquals(List.of(), problems);
  }

  // ---- the header ----

  private static String code(String header) {
    String s = header.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ");
    return s.replaceAll("(?m)^\\s*#.*$", " ");
  }

  static Map<String, CFunction> functions(String header) {
    Map<String, CFunction> out = new TreeMap<>();
    Matcher m = Pattern.compile("([\\w\\s*]+?)\\b(fp_\\w+)\\s*\\(([^()]*)\\)\\s*;").matcher(code(header));
    while (m.find()) {
      List<String> params = new ArrayList<>();
      String args = m.group(3).trim();
      if (!args.isEmpty() && !args.equals("void"))
        for (String p : args.split(",")) params.add(withoutName(p.trim()));
      CFunction f = new CFunction(m.group(2), normalize(m.group(1)), params);
      assertTrue(out.put(f.name(), f) == null, "declared twice: " + f.name());
    }
    return out;
  }

  static Map<String, Long> enumConstants(String header) {
    Map<String, Long> out = new TreeMap<>();
    Matcher e = Pattern.compile("enum\\s+\\w*\\s*\\{([^}]*)\\}").matcher(code(header));
    while (e.find()) {
      long next = 0;
      for (String item : e.group(1).split(",")) {
        if (item.isBlank()) continue;
        String[] kv = item.split("=");
        long value = kv.length > 1 ? Long.decode(kv[1].trim()) : next;
        out.put(kv[0].trim(), value);
        next = value + 1;
      }
    }
    return out;
  }

  /** "const float* q" -> "const float*"; "int64_t n" -> "int64_t". */
  private static String withoutName(String param) {
    String t = normalize(param);
    Matcher m = Pattern.compile("^(.*?[\\s*])(\\w+)$").matcher(t);
    if (!m.matches()) throw new AssertionError("cannot parse argument '" + param + "'");
    return normalize(m.group(1));
  }

  private static String normalize(String type) {
    return type.trim().replaceAll("\\s+", " ").replaceAll("\\s*\\*", "*").replaceAll("\\*(?=\\w)", "* ");
  }

  // ---- kinds ----

  /** int64, int32, float32, float64, void, string, or pointer(element) for a C type. */
  static String cKind(String type) {
    String t = normalize(type);
    if (t.equals("const char*")) return "string";
    if (t.endsWith("*")) return "pointer(" + element(t) + ")";
    return switch (t) {
      case "int64_t" -> "int64";
      case "int32_t", "int" -> "int32";
      case "float" -> "float32";
      case "double" -> "float64";
      case "void" -> "void";
      default -> throw new AssertionError("unexpected C type '" + type + "': teach this test its kind");
    };
  }

  /** The element a pointer points to, without const: float, int32, void, void* (for void**). */
  private static String element(String pointerType) {
    String e = pointerType.substring(0, pointerType.length() - 1).replace("const", "").trim();
    return switch (e) {
      case "int32_t", "int" -> "int32";
      default -> e.replace(" ", "");
    };
  }

  /** The kind of a Java parameter or return type; a generic {@link Pointer} takes its element from its @Cast. */
  static String javaKind(Class<?> type, Cast cast) {
    if (type == long.class && cast != null && cast.value().length > 0 && cast.value()[0].trim().endsWith("*"))
      return cKind(cast.value()[0]); // a raw address cast to the pointer type
    if (type == long.class) return "int64";
    if (type == int.class) return "int32";
    if (type == float.class) return "float32";
    if (type == double.class) return "float64";
    if (type == void.class) return "void";
    if (type == String.class) return "string";
    if (type == long[].class && cast != null && cast.value().length > 0) {
      // JavaCPP pins a primitive array for the call: its 8-byte elements are int64 values or addresses
      String k = cKind(cast.value()[0]);
      if (k.equals("pointer(int64_t)") || k.equals("pointer(uint64_t)") || k.endsWith("*)")) return k;
    }
    if (type == int[].class && cast != null && cast.value().length > 0 && cKind(cast.value()[0]).equals("pointer(int32)"))
      return "pointer(int32)"; // pinned likewise: 4-byte elements

    if (Pointer.class.isAssignableFrom(type)) {
      if (cast != null && cast.value().length > 0) return cKind(cast.value()[0]);
      String simple = type.getSimpleName();
      return switch (simple) {
        case "FloatPointer" -> "pointer(float)";
        case "IntPointer" -> "pointer(int32)";
        case "Pointer" -> "pointer(void)";
        case "PointerPointer" -> "pointer(void*)";
        default -> "pointer(" + simple + ")";
      };
    }
    return type.getName();
  }
}
