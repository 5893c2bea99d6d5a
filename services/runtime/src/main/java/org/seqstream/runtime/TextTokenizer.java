package org.seqstream.runtime;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The package's tokenizer.json, run by the Hugging Face tokenizers library. {@link #encode}
 * refuses what the model cannot take instead of truncating or mapping it to unknown tokens.
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer hf;
    private final ModelPackage pkg;

    public TextTokenizer(ModelPackage pkg) {
        this.pkg = pkg;
        try {
            this.hf = HuggingFaceTokenizer.newInstance(pkg.tokenizerFile(),
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
        } catch (IOException | RuntimeException e) {
            throw new PackageException(pkg.tokenizerFile() + ": cannot load the tokenizer: " + e.getMessage(), e);
        }
    }

    /** Token ids of an input, and whether it was cut to the model's maximum source length. */
    public record Encoded(long[] ids, boolean truncated) {
    }

    /** Token ids of {@code text}, or an {@link InputException} saying what is wrong with it. */
    public long[] encode(String text) {
        return encode(text, false).ids();
    }

    /**
     * Token ids of {@code text}. An input longer than the model accepts is refused, unless
     * {@code truncate} asks to keep its first tokens; unknown characters are always refused.
     */
    public Encoded encode(String text, boolean truncate) {
        if (text == null || text.isBlank()) {
            throw new InputException(InputException.EMPTY_INPUT, "empty input");
        }
        int chars = text.codePointCount(0, text.length());
        if (chars > pkg.maxSourceLength() && !truncate) {
            throw new InputException(InputException.INPUT_TOO_LONG, "input is " + chars + " characters long; " + pkg.name() + " accepts at most "
                    + pkg.maxSourceLength());
        }
        Encoding enc = hf.encode(text, false, false);
        long[] ids = enc.getIds();
        List<String> unknown = new ArrayList<>();
        CharSpan[] spans = enc.getCharTokenSpans();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == pkg.special().unk()) {
                CharSpan sp = spans[i];
                String c = sp == null ? "?" : text.substring(sp.getStart(), sp.getEnd());
                unknown.add("'" + printable(c) + "' at " + (sp == null ? "?" : sp.getStart()));
            }
        }
        if (!unknown.isEmpty()) {
            throw new InputException(InputException.UNKNOWN_CHARACTERS, "characters not in the " + pkg.name() + " vocabulary: " + String.join(", ", unknown));
        }
        if (ids.length > pkg.maxSourceLength()) {
            if (truncate) {
                return new Encoded(java.util.Arrays.copyOf(ids, pkg.maxSourceLength()), true);
            }
            throw new InputException(InputException.INPUT_TOO_LONG, "input is " + ids.length + " tokens long; " + pkg.name() + " accepts at most "
                    + pkg.maxSourceLength());
        }
        return new Encoded(ids, false);
    }

    private static String printable(String c) {
        StringBuilder sb = new StringBuilder();
        c.codePoints().forEach(cp -> {
            if (cp < 0x20 || cp == 0x7f || Character.isWhitespace(cp) && cp != ' ') {
                sb.append(String.format("\\u%04x", cp));
            } else {
                sb.appendCodePoint(cp);
            }
        });
        return sb.toString();
    }

    /** Text of generated ids, special tokens left out. */
    public String decode(long[] ids) {
        return hf.decode(ids, true);
    }

    @Override
    public void close() {
        hf.close();
    }
}
