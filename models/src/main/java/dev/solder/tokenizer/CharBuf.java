package dev.solder.tokenizer;

import java.util.Arrays;

/** A growable char array that is also a {@link CharSequence}, reused per thread to avoid garbage. */
final class CharBuf implements CharSequence {
    char[] chars;
    int length;

    CharBuf(int capacity) {
        chars = new char[Math.max(16, capacity)];
    }

    void clear() {
        length = 0;
    }

    void ensure(int extra) {
        if (length + extra > chars.length) {
            chars = Arrays.copyOf(chars, Math.max(chars.length * 2, length + extra));
        }
    }

    void append(char c) {
        if (length == chars.length) {
            chars = Arrays.copyOf(chars, chars.length * 2);
        }
        chars[length++] = c;
    }

    void appendCodePoint(int cp) {
        if (cp < 0x10000) {
            append((char) cp);
        } else {
            ensure(2);
            chars[length++] = Character.highSurrogate(cp);
            chars[length++] = Character.lowSurrogate(cp);
        }
    }

    @Override
    public int length() {
        return length;
    }

    @Override
    public char charAt(int index) {
        return chars[index];
    }

    @Override
    public CharSequence subSequence(int start, int end) {
        return new String(chars, start, end - start);
    }

    @Override
    public String toString() {
        return new String(chars, 0, length);
    }
}
