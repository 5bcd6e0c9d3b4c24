// A thin typed wrapper over fetch for the fleet server's REST API. Paths, parameters and
// answers are typed by the generated OpenAPI schema (schema.gen.ts); this file adds the
// bearer token, one refresh-and-retry on 401, and problem+json errors.

import type { paths } from "./schema.gen";
import { ApiError, parseProblem } from "./problem";

type Method = "get" | "post" | "put" | "delete";

type Operation<P extends keyof paths, M extends Method> = paths[P][M] extends infer O
  ? O extends { responses: unknown }
    ? O
    : never
  : never;

export type PathsWith<M extends Method> = {
  [P in keyof paths]: Operation<P, M> extends never ? never : P;
}[keyof paths];

type JsonContent<R> = R extends { content: { "application/json": infer B } } ? B : void;

/** The JSON body of an operation's success answer (200, 201 or 202). */
export type SuccessBody<O> = O extends { responses: infer Rs }
  ? 200 extends keyof Rs
    ? JsonContent<Rs[200]>
    : 201 extends keyof Rs
      ? JsonContent<Rs[201]>
      : 202 extends keyof Rs
        ? JsonContent<Rs[202]>
        : void
  : never;

type PathParams<O> = O extends { parameters: { path: infer PP } }
  ? PP extends Record<string, unknown>
    ? PP
    : never
  : never;
type QueryParams<O> = O extends { parameters: { query?: infer Q } } ? Q : never;
type JsonBody<O> = O extends { requestBody: { content: { "application/json": infer B } } }
  ? B
  : never;

export interface RequestOptions<O> {
  path?: PathParams<O>;
  query?: QueryParams<O>;
  json?: JsonBody<O>;
  signal?: AbortSignal;
}

/** Where the client gets its bearer token and how it renews it. */
export interface TokenSource {
  accessToken(): string | null;
  /** Renew the access token; false when the session is over (the user must sign in). */
  refresh(): Promise<boolean>;
}

/** `/api/v1/sites/{site_id}` with `{site_id: "a b"}` → `/api/v1/sites/a%20b`. */
export function fillPath(template: string, params: Record<string, unknown> | undefined): string {
  return template.replace(/\{([^}]+)\}/g, (_whole, name: string) => {
    const value = params?.[name];
    if (value === undefined || value === null) {
      throw new Error(`path parameter ${name} missing for ${template}`);
    }
    return encodeURIComponent(String(value));
  });
}

/** `?a=1&b=x` from a query object, leaving out undefined, null and "" values. */
export function queryString(query: Record<string, unknown> | undefined): string {
  if (!query) return "";
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, String(v)));
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export class ApiClient {
  constructor(
    private readonly tokens: TokenSource,
    private readonly baseUrl = "",
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {}

  get<P extends PathsWith<"get">>(
    path: P,
    options: RequestOptions<Operation<P, "get">> = {},
  ): Promise<SuccessBody<Operation<P, "get">>> {
    return this.call("GET", path, options) as Promise<SuccessBody<Operation<P, "get">>>;
  }

  post<P extends PathsWith<"post">>(
    path: P,
    options: RequestOptions<Operation<P, "post">> = {},
  ): Promise<SuccessBody<Operation<P, "post">>> {
    return this.call("POST", path, options) as Promise<SuccessBody<Operation<P, "post">>>;
  }

  /** The URL of a path with parameters, for links, <img> and <iframe> sources. */
  url(template: string, path?: Record<string, unknown>, query?: Record<string, unknown>): string {
    return `${this.baseUrl}${fillPath(template, path)}${queryString(query)}`;
  }

  /** A raw authenticated request (for endpoints outside the generated schema, e.g. blobs). */
  async fetchRaw(url: string, init: RequestInit = {}): Promise<Response> {
    const attempt = () => {
      const headers = new Headers(init.headers);
      const token = this.tokens.accessToken();
      if (token) headers.set("Authorization", `Bearer ${token}`);
      return this.fetchImpl(url, { ...init, headers });
    };
    let response = await attempt();
    if (response.status === 401 && (await this.tokens.refresh())) {
      response = await attempt();
    }
    return response;
  }

  /** A request by method and URL answering parsed JSON; errors become ApiError. */
  async requestJson(method: string, url: string, json?: unknown, signal?: AbortSignal): Promise<unknown> {
    const init: RequestInit = { method, headers: { Accept: "application/json" } };
    if (signal) init.signal = signal;
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers = { ...init.headers, "Content-Type": "application/json" };
    }
    const response = await this.fetchRaw(url, init);
    const text = await response.text();
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { detail: text.slice(0, 500) };
      }
    }
    if (!response.ok) throw new ApiError(parseProblem(response.status, body));
    return body;
  }

  private call<O>(method: string, template: string, options: RequestOptions<O>): Promise<unknown> {
    const url = this.url(
      template,
      options.path as Record<string, unknown> | undefined,
      options.query as Record<string, unknown> | undefined,
    );
    return this.requestJson(method, url, options.json, options.signal);
  }
}
