// One redaction rule for the logs and the console: a key is sensitive when, lower-cased and stripped of `_`,
// `-` and spaces, it belongs to a family below (at any depth, in any casing: `lastName`, `last_name`,
// `LAST-NAME`). Its value, whatever it is, is replaced by "[redacted]". docs/security.md lists the families.

/** Families matched anywhere in the normalized key. */
const CONTAINS = [
  // names of people
  "firstname",
  "lastname",
  "surname",
  "fullname",
  "givenname",
  "familyname",
  "middlename",
  "maidenname",
  "contactname",
  "customername",
  // phones, e-mails, addresses
  "phone",
  "mobile",
  "email",
  "address",
  "street",
  // secrets, tokens, keys, credentials
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "accesskey",
  "privatekey",
  "credential",
  "authorization",
  "cookie",
  "signature",
  // whole objects that carry a person's details in the providers' payloads
  "contactinfo",
];

/** Families matched as the whole normalized key (too short or too common to match inside another word). */
const EXACT = new Set([
  "name",
  "fname",
  "lname",
  "tel",
  "telephone",
  "fax",
  "mail",
  "auth",
  "key",
  "pin",
  "customer",
  "shipper",
  "recipient",
  "driver",
  "iban",
  "ssn",
]);

/** Keys that contain a family's word but hold nothing personal or secret. */
const ALLOWED = new Set(["tokenendpoint", "signaturealgorithm", "secretrotateduntil", "webhookid"]);

const normalize = (key: string) => key.toLowerCase().replace(/[\s_-]+/g, "");

const verdicts = new Map<string, boolean>();

function isSensitiveKey(key: string): boolean {
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    const k = normalize(key);
    verdict = !ALLOWED.has(k) && (EXACT.has(k) || CONTAINS.some((word) => k.includes(word)));
    if (verdicts.size < 10_000) verdicts.set(key, verdict);
  }
  return verdict;
}

export const REDACTED = "[redacted]";
const MAX_DEPTH = 32;

/** A copy with every sensitive key's value replaced, at any depth; other values as they are. */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  if (value && typeof value === "object" && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSensitiveKey(k) ? REDACTED : redactDeep(v, depth + 1)]));
  }
  return value;
}
