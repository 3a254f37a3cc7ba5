package io.fitprune.hf;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A model folder's chat template (Jinja) rendered as transformers' {@code apply_chat_template}
 * renders it for one user turn: {@code messages = [{"role": "user", "content": [{"type":
 * "image"}, {"type": "text", "text": ...}]}]}, {@code add_generation_prompt = true}.
 *
 * <p>Where Jinjava differs from Jinja2 as transformers configures it, Jinja2 is followed:
 * {@code trim_blocks} (the newline after a block tag dropped), {@code lstrip_blocks}
 * ({@link LstripBlocks}, since Jinjava's own also strips spaces before a tag in mid-line), the
 * source's one trailing newline dropped, the context's strings ({@link PyStr}) passing
 * {@code is string}, and output never interpreted again (Jinjava's nested interpretation would run
 * a question holding <code>{{ x }}</code> as template code). Jinjava's {@code namespace()},
 * {@code loop.first} and key membership ({@code 'image' in content}) already behave as Jinja2's.
 *
 * @param source   the template text
 * @param from     where it came from (a file name, or a note that LLaVA-1.5's form stands in)
 */
public record ChatTemplate(String source, String from) {
  /** ChatML's turn start, which every turn after the assistant's answer begins with. */
  public static final String CHATML_TURN = "<|im_start|>";

  /** LLaVA-1.5's prompt form, for folders that carry no template: "USER: &lt;image&gt;\n... ASSISTANT:". */
  public static ChatTemplate llava15Fallback() {
    return new ChatTemplate(TokenizerFiles.LLAVA_TEMPLATE, "no chat template in the folder: LLaVA-1.5's "
        + "'USER: <image>\\n... ASSISTANT:' form");
  }

  /** The prompt for one user turn: the image (if any) and the question. */
  public String render(String question, boolean image, Map<String, String> specialTokens) {
    List<Map<String, Object>> content = new ArrayList<>();
    if (image) content.add(Map.of("type", "image"));
    content.add(Map.of("type", "text", "text", new PyStr(question)));
    Map<String, Object> ctx = new HashMap<>(specialTokens);
    ctx.put("messages", List.of(Map.of("role", new PyStr("user"), "content", content)));
    ctx.put("add_generation_prompt", true);
    Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder().withFailOnUnknownTokens(false).withTrimBlocks(true)
        .withNestedInterpretationEnabled(false).build());
    jinjava.getGlobalContext().registerTag(new GenerationTag());
    jinjava.getGlobalContext().registerExpTest(new IsString());
    // Jinja2's keep_trailing_newline = False: the source's last newline is not output
    String src = source.endsWith("\r\n") ? source.substring(0, source.length() - 2)
        : source.endsWith("\n") ? source.substring(0, source.length() - 1) : source;
    src = LstripBlocks.apply(src);
    RenderResult r = jinjava.renderForResult(src, ctx);
    for (TemplateError e : r.getErrors())
      if (e.getSeverity() == TemplateError.ErrorType.FATAL)
        throw new IllegalArgumentException(from + ": the chat template does not render: " + e.getMessage()
            + (e.getLineno() > 0 ? " (line " + e.getLineno() + ")" : ""));
    return r.getOutput();
  }

  /**
   * The user turn's marker for a model that goes on to write the next turn itself: the text the
   * template puts before the image, special tokens and spaces trimmed ("USER:" for LLaVA-1.5); for
   * a ChatML template (Qwen2-VL's) the turn start {@code <|im_start|>}; "" when neither is short.
   *
   * @param imageMarker the image string the template writes
   */
  public String userMarker(Map<String, String> specialTokens, String imageMarker) {
    String rendered = render("", true, specialTokens);
    int at = rendered.indexOf(imageMarker);
    if (at < 0) return "";
    String before = rendered.substring(0, at);
    if (before.contains(CHATML_TURN)) return CHATML_TURN;
    for (String special : specialTokens.values()) before = before.replace(special, "");
    before = before.strip();
    return before.length() <= 32 ? before : "";
  }

  /** Jinja2's {@code is string}: any text, the context's {@link PyStr} included (Jinjava's own passes only java.lang.String). */
  static final class IsString implements ExpTest {
    @Override
    public String getName() {
      return "string";
    }

    @Override
    public boolean evaluate(Object var, JinjavaInterpreter interpreter, Object... args) {
      return var instanceof CharSequence;
    }
  }

  /** transformers' {@code {% generation %}} marks the assistant's tokens; for rendering it is transparent. */
  public static final class GenerationTag implements Tag {
    @Override
    public String getName() {
      return "generation";
    }

    @Override
    public String getEndTagName() {
      return "endgeneration";
    }

    @Override
    public String interpret(TagNode node, JinjavaInterpreter interpreter) {
      StringBuilder out = new StringBuilder();
      for (Node child : node.getChildren()) out.append(child.render(interpreter).getValue());
      return out.toString();
    }
  }
}
