// One redaction rule for the logs and the console (docs/security.md lists it):
// - a key is sensitive when, lower-cased, stripped of accents, `_`, `-` and spaces, it belongs to a family
//   below, in English, French, Spanish, German or Portuguese (at any depth, in any casing: `lastName`,
//   `last_name`, `LAST-NAME`, `Prénom`); its value, whatever it is, is replaced by "[redacted]";
// - a free-text field (notes, comments, remarks…) may hold anything a person typed: it is shown only to
//   whoever may see free text (the console's admins), and redacted everywhere else, logs included;
// - a string value that is an e-mail address or a phone number (PHONE below) is redacted under any key, and
//   an e-mail address inside a longer text is replaced in place.

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
  // French, Spanish, German, Portuguese
  "prenom", // prénom
  "nomcomplet",
  "nomdefamille",
  "courriel",
  "telefon", // telefono, telefone, Telefonnummer
  "correo", // correo, correoelectronico
  "apellido",
  "sobrenome",
  "nomecompleto",
  "vorname",
  "nachname",
  "adress", // adresse, adresses (French, German)
  "direccion",
  "endereco",
  "celular",
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
  "nom",
  "nombre",
  "nome",
  "movil",
  "handy",
  "portable",
  "rue",
  "strasse",
  "calle",
  "rua",
]);

/** Free text a person typed (matched anywhere in the normalized key): shown only where free text may be. */
const FREE_TEXT = ["note", "comment", "remark", "remarque", "commentaire", "observacion", "observacao", "bemerkung", "kommentar", "anmerkung", "freetext"];

/** Keys that contain a family's word but hold nothing personal or secret. */
const ALLOWED = new Set(["tokenendpoint", "signaturealgorithm", "secretrotateduntil", "webhookid"]);

const normalize = (key: string) =>
  key
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[\s_-]+/g, "");

type Verdict = "sensitive" | "free_text" | "plain";
const verdicts = new Map<string, Verdict>();

function keyVerdict(key: string): Verdict {
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    const k = normalize(key);
    if (ALLOWED.has(k)) verdict = "plain";
    else if (EXACT.has(k) || CONTAINS.some((word) => k.includes(word))) verdict = "sensitive";
    else verdict = FREE_TEXT.some((word) => k.includes(word)) ? "free_text" : "plain";
    if (verdicts.size < 10_000) verdicts.set(key, verdict);
  }
  return verdict;
}

export const REDACTED = "[redacted]";
/** What a free-text field shows to whoever may not see free text. */
const FREE_TEXT_HIDDEN = "[free text: admins only]";
const MAX_DEPTH = 32;

const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(\.[\p{L}\p{N}-]+)*\.\p{L}{2,}/gu;
/**
 * A phone number: 7 to 15 digits, written with a leading `+` or with at least two separators (space, `.`,
 * `-`, parentheses) between digit groups, and nothing else: `+33612345678`, `06 12 34 56 78`,
 * `(555) 123-4567`. Not a phone: a run of digits without separators (ids, epoch times), anything with a
 * letter, `:` or `/` (UUIDs, timestamps, dates written with slashes), an ISO date (`2026-12-03`), an amount
 * with thousands separators (`1.234.567,50`), an IPv4 address.
 */
const PHONE = /^(\+\d|\(?\d)[\d .()-]*\d$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}/;
const DOTTED_DATE = /^\d{1,2}[.-]\d{1,2}[.-]\d{2,4}$/;
const AMOUNT = /^\d{1,3}([.,' ]\d{3})+([.,]\d{1,2})?$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function looksLikePhone(text: string): boolean {
  const value = text.trim();
  if (value.length > 32 || !PHONE.test(value) || ISO_DATE.test(value) || DOTTED_DATE.test(value) || AMOUNT.test(value) || IPV4.test(value)) return false;
  const digits = value.replace(/\D/g, "").length;
  if (digits < 7 || digits > 15) return false;
  return value.startsWith("+") || (value.match(/[ .()-]+/g)?.length ?? 0) >= 2;
}

function redactText(text: string): string {
  if (looksLikePhone(text)) return REDACTED;
  if (!text.includes("@")) return text;
  EMAIL.lastIndex = 0;
  return text.replace(EMAIL, REDACTED);
}

export interface RedactOptions {
  /** Whether free-text fields (notes, comments…) are shown: the console's admins only; never in the logs. */
  freeText?: boolean;
}

/** A copy with every sensitive key's value, e-mail address and phone number replaced, at any depth. */
export function redactDeep(value: unknown, options: RedactOptions = {}, depth = 0): unknown {
  if (depth > MAX_DEPTH) return REDACTED;
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, options, depth + 1));
  if (value && typeof value === "object" && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        const verdict = keyVerdict(k);
        if (verdict === "sensitive") return [k, REDACTED];
        if (verdict === "free_text" && !options.freeText) return [k, FREE_TEXT_HIDDEN];
        return [k, redactDeep(v, options, depth + 1)];
      }),
    );
  }
  return value;
}
