/** Whether the runtime knows `name` as an IANA time zone (Europe/Lisbon, America/Sao_Paulo, UTC). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
