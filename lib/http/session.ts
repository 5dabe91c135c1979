/**
 * Dashboard sessions without server state: the cookie is `<expiry ms>.<HMAC-SHA256 of the expiry
 * keyed by GATEWAY_TOKEN>`, so only someone who knew the token could have made it, it lapses on
 * its own, and changing the token signs everyone out. `HttpOnly` keeps it from scripts,
 * `SameSite=Strict` from other sites' requests, `Secure` from plain HTTP when served over HTTPS.
 * @module
 */

/** The session cookie's name. */
export const SESSION_COOKIE = "ws_session";

const te = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(token: string): Promise<CryptoKey> {
  let key = keys.get(token);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      te.encode(`session:${token}`),
      {
        name: "HMAC",
        hash: "SHA-256",
      },
      false,
      ["sign", "verify"],
    );
    keys.set(token, key);
  }
  return key;
}

function b64url(bytes: ArrayBuffer): string {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function unb64url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(text)) return null;
  try {
    const raw = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** A session value valid until `expiresAt` (ms since epoch), signed with `token`. */
export async function signSession(token: string, expiresAt: number): Promise<string> {
  const exp = String(Math.floor(expiresAt));
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(token), te.encode(exp));
  return `${exp}.${b64url(mac)}`;
}

/** True when `value` was signed with `token` and has not expired at `now`. */
export async function verifySession(
  token: string,
  value: string,
  now: number = Date.now(),
): Promise<boolean> {
  const m = /^(\d{1,16})\.([A-Za-z0-9_-]{1,100})$/.exec(value);
  if (!m || Number(m[1]) <= now) return false;
  const mac = unb64url(m[2]);
  if (!mac) return false;
  // `verify` compares in constant time.
  return await crypto.subtle.verify("HMAC", await hmacKey(token), mac, te.encode(m[1]));
}

/** The value of cookie `name` in `req`, or null. */
export function readCookie(req: Request, name: string): string | null {
  const header = req.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** True when `req` carries a valid session cookie for `token`. */
export function hasSession(req: Request, token: string, now?: number): Promise<boolean> {
  const value = readCookie(req, SESSION_COOKIE);
  return value ? verifySession(token, value, now) : Promise.resolve(false);
}

/** Whether the request reached us over HTTPS (directly, or as its proxy says). */
function isHttps(req: Request): boolean {
  return new URL(req.url).protocol === "https:" ||
    req.headers.get("x-forwarded-proto")?.toLowerCase() === "https";
}

/** The `Set-Cookie` value that starts a session of `ttlMs`. */
export async function sessionCookie(
  req: Request,
  token: string,
  ttlMs: number,
  now: number = Date.now(),
): Promise<string> {
  const value = await signSession(token, now + ttlMs);
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${Math.floor(ttlMs / 1000)}; HttpOnly; ` +
    `SameSite=Strict${isHttps(req) ? "; Secure" : ""}`;
}

/** The `Set-Cookie` value that ends the session. */
export function clearSessionCookie(req: Request): string {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict${
    isHttps(req) ? "; Secure" : ""
  }`;
}
