package org.seqstream.runtime;

/** A request input the model cannot accept (empty, too long, unknown characters, bad parameters). */
public class InputException extends RuntimeException {
    public InputException(String message) {
        super(message);
    }
}
