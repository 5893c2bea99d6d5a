package org.seqstream.runtime;

/** Ids of the special tokens of a package's vocabulary. */
public record SpecialTokens(int pad, int bos, int eos, int unk, int sep) {
}
