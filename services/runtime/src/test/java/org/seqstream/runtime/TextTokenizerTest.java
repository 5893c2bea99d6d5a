package org.seqstream.runtime;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextTokenizerTest {
    private final Shipped.Loaded shipped = Shipped.load(Shipped.SEQ2SEQ);
    private final TextTokenizer tok = shipped.tokenizer();
    private final int max = shipped.pkg().maxSourceLength();

    @Test
    void encodesOneIdPerCharacterAndDecodesBack() {
        long[] ids = tok.encode("it's 5 pm");
        assertEquals(9, ids.length);
        assertEquals("it's 5 pm", tok.decode(ids));
        assertArrayEquals(tok.encode("a"), new long[] {ids.length == 9 ? tok.encode("a")[0] : -1});
    }

    @Test
    void refusesAnEmptyInput() {
        assertEquals("empty input", assertThrows(InputException.class, () -> tok.encode("")).getMessage());
        assertEquals("empty input", assertThrows(InputException.class, () -> tok.encode("   ")).getMessage());
    }

    @Test
    void refusesAnInputLongerThanTheModelAccepts() {
        InputException e = assertThrows(InputException.class, () -> tok.encode("a".repeat(max + 1)));
        assertTrue(e.getMessage().contains((max + 1) + " characters") && e.getMessage().contains("at most " + max), e.getMessage());
        assertEquals(max, tok.encode("a".repeat(max)).length);
    }

    @Test
    void truncationIsOnlyOnRequestAndSaysSo() {
        String longer = "ab ".repeat(max / 3 + 1);
        TextTokenizer.Encoded e = tok.encode(longer, true);
        assertEquals(max, e.ids().length);
        assertTrue(e.truncated());
        assertEquals(false, tok.encode("ab", true).truncated());
        InputException refused = assertThrows(InputException.class, () -> tok.encode(longer, false));
        assertEquals(InputException.INPUT_TOO_LONG, refused.code());
    }

    @Test
    void namesEveryUnknownCharacterAndWhereItIs() {
        InputException e = assertThrows(InputException.class, () -> tok.encode("Éllo wörld"));
        assertTrue(e.getMessage().contains("'É' at 0") && e.getMessage().contains("'ö' at 6"), e.getMessage());
        assertEquals(InputException.UNKNOWN_CHARACTERS, e.code());
    }

    @Test
    void decodingSkipsSpecialTokens() {
        assertEquals("ab", tok.decode(new long[] {1, tok.encode("a")[0], 2, tok.encode("b")[0], 0}));
    }
}
