package io.fitprune.hf;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
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
 * @param source   the template text
 * @param from     where it came from (a file name, or a note that LLaVA-1.5's form stands in)
 */
public record ChatTemplate(String source, String from) {

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
    Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder().withFailOnUnknownTokens(false).build());
    jinjava.getGlobalContext().registerTag(new GenerationTag());
    RenderResult r = jinjava.renderForResult(source, ctx);
    for (TemplateError e : r.getErrors())
      if (e.getSeverity() == TemplateError.ErrorType.FATAL)
        throw new IllegalArgumentException(from + ": the chat template does not render: " + e.getMessage()
            + (e.getLineno() > 0 ? " (line " + e.getLineno() + ")" : ""));
    return r.getOutput();
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
