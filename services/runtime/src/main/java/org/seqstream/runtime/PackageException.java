package org.seqstream.runtime;

/** A model package that is missing, broken or inconsistent; the message names the file and the problem. */
public class PackageException extends RuntimeException {
    public PackageException(String message) {
        super(message);
    }

    public PackageException(String message, Throwable cause) {
        super(message, cause);
    }
}
