// Text that reaches Postgres from outside (subscriber answers, error messages) must be storable: a TEXT
// column refuses NUL, and a lone UTF-16 surrogate cannot be encoded. Such text is repaired, never refused.

/** Removes NUL characters and replaces lone surrogates with U+FFFD. */
export function storableText(value: string): string {
  const withoutNul = value.includes("\u0000") ? value.replaceAll("\u0000", "") : value;
  return withoutNul.isWellFormed() ? withoutNul : withoutNul.toWellFormed();
}

export function storableTextOrNull(value: string | null | undefined): string | null {
  return value == null ? null : storableText(value);
}
