/** A provider response's body as JSON, or undefined when it is empty, unreadable or not JSON (error pages, proxies). */
export async function readJson(response: Response): Promise<unknown> {
  const text = await response.text().catch(() => "");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
