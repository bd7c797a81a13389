/**
 * The address forms the configuration accepts: `host:port` to listen on, and http(s) base URLs by
 * which members reach each other. Shared with the admin API, which validates the same forms.
 */

export interface HostPort {
  /** A host name or IP address; IPv6 without its brackets. */
  readonly host: string;
  /** 0 lets the system choose (tests). */
  readonly port: number;
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)):(\d{1,5})$/;

/** `host:port` or `[ipv6]:port`, or undefined when the text is neither. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = HOST_PORT.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

export function formatHostPort(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Hosts that mean "every interface": a listener there collides with any other on the same port. */
export function isWildcardHost(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

export type BaseUrlProblem = "not-url" | "scheme" | "credentials" | "path" | "port";

/**
 * Why the text is not a base URL a member can be reached at: http or https, a host, no user
 * info (it would be a secret in plain sight), nothing after the authority (kingbus appends its own
 * paths), and with `requirePort` an explicit port (gRPC targets have no default port).
 */
export function baseUrlProblem(text: string, requirePort: boolean): BaseUrlProblem | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "not-url";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "scheme";
  if (url.hostname === "") return "not-url";
  if (url.username !== "" || url.password !== "") return "credentials";
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "" || /[?#]/.test(text)) return "path";
  // URL drops a default port (http://h:80 has port ""), so look at the text itself.
  if (requirePort && !/^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:@]+):\d+\/?$/i.test(text)) return "port";
  return undefined;
}

export function describeBaseUrlProblem(problem: BaseUrlProblem): string {
  switch (problem) {
    case "not-url":
      return "must be a URL such as http://10.0.0.1:9696";
    case "scheme":
      return "must be an http:// or https:// URL";
    case "credentials":
      return "must not contain a user name or password";
    case "path":
      return "must be a base URL without a path, query or fragment";
    case "port":
      return "must name its port explicitly (e.g. http://10.0.0.1:9696)";
  }
}

/** The URL with a trailing slash removed, so that equal URLs compare equal as text. */
export function normalizeBaseUrl(text: string): string {
  return text.endsWith("/") ? text.slice(0, -1) : text;
}
