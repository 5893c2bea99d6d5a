package org.seqstream.runtime;

/**
 * A request input the model cannot accept. {@link #code()} is stable and machine-readable
 * (results on Kafka carry it); the message says what is wrong for a person.
 */
public class InputException extends RuntimeException {
    public static final String EMPTY_INPUT = "empty_input";
    public static final String INPUT_TOO_LONG = "input_too_long";
    public static final String UNKNOWN_CHARACTERS = "unknown_characters";
    public static final String INVALID_PARAMETERS = "invalid_parameters";
    public static final String UNKNOWN_MODEL = "unknown_model";
    /** A sequence that reached the decoder and cannot be decoded by its model (see the message). */
    public static final String INVALID_SEQUENCE = "invalid_sequence";

    private final String code;

    public InputException(String code, String message) {
        super(message);
        this.code = code;
    }

    public String code() {
        return code;
    }
}
