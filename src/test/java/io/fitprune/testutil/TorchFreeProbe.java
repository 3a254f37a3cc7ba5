package io.fitprune.testutil;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Run in a child JVM without libtorch or the CLI libraries on the class path (by
 * {@code io.fitprune.kernels.TorchFreePackagesTest}): initialises every class of the packages
 * named in the arguments (except classes given as {@code !name}) and resolves all their members'
 * signatures, which fails with NoClassDefFoundError if any of them mentions a class that is absent.
 */
public final class TorchFreeProbe {
  public static void main(String[] args) throws Exception {
    Path classes = Path.of(args[0]);
    java.util.Set<String> excluded = new java.util.HashSet<>();
    for (String a : args) if (a.startsWith("!")) excluded.add(a.substring(1));
    int count = 0;
    for (int i = 1; i < args.length; i++) {
      if (args[i].startsWith("!")) continue;
      Path dir = classes.resolve(args[i].replace('.', '/'));
      List<Path> files;
      try (Stream<Path> s = Files.list(dir)) {
        files = s.filter(p -> p.toString().endsWith(".class")).sorted().toList();
      }
      for (Path f : files) {
        String name = args[i] + "." + f.getFileName().toString().replace(".class", "");
        if (excluded.contains(name) || excluded.contains(name.replaceAll("\\$.*", ""))) continue;
        Class<?> c = Class.forName(name, true, TorchFreeProbe.class.getClassLoader());
        c.getDeclaredMethods();
        c.getDeclaredFields();
        c.getDeclaredConstructors();
        c.getRecordComponents();
        count++;
      }
    }
    if (count == 0) throw new AssertionError("no classes found under " + classes);
    System.out.println("probe ok: " + count + " classes");
  }
}
