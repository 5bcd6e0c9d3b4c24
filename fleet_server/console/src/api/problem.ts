// RFC 9457 problem details as the fleet server sends them (fleet_server/errors.py), turned
// into messages a form can show next to its fields.

export interface FieldError {
  /** Dotted path into the request body, e.g. `checkpoints.0.waypoint`; "" for the whole body. */
  field: string;
  message: string;
}

export interface Problem {
  status: number;
  title: string;
  detail: string | null;
  type: string;
  requestId: string | null;
  errors: FieldError[];
  retryAfterS: number | null;
}

const KIND_TAGS = new Set(["patrol", "disinfection", "guidance"]);

/**
 * The server's field path in the dotted form the console's forms use.
 *
 * FastAPI reports `patrol.checkpoints[0].waypoint` (the discriminated union puts the
 * mission kind first); the mission compiler reports `checkpoints.0.waypoint`. Both become
 * `checkpoints.0.waypoint`. A leading `body.` is dropped as well.
 */
export function normaliseFieldPath(field: string): string {
  let path = field.replace(/\[(\d+)\]/g, ".$1").replace(/^\./, "");
  const parts = path.split(".").filter((p) => p !== "");
  if (parts[0] === "body") parts.shift();
  if (parts.length > 1 && KIND_TAGS.has(parts[0] ?? "")) parts.shift();
  path = parts.join(".");
  return path;
}

function asString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** A problem document from a response body (any JSON); tolerant of missing members. */
export function parseProblem(status: number, body: unknown): Problem {
  const doc = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const rawErrors = Array.isArray(doc.errors) ? doc.errors : [];
  const errors: FieldError[] = [];
  for (const raw of rawErrors) {
    if (typeof raw !== "object" || raw === null) continue;
    const item = raw as Record<string, unknown>;
    const message = asString(item.message) ?? asString(item.msg);
    if (message === null) continue;
    errors.push({ field: normaliseFieldPath(asString(item.field) ?? ""), message });
  }
  const retry = doc.retry_after_s;
  return {
    status,
    title: asString(doc.title) ?? `HTTP ${status}`,
    detail: asString(doc.detail),
    type: asString(doc.type) ?? "about:blank",
    requestId: asString(doc.request_id),
    errors,
    retryAfterS: typeof retry === "number" ? retry : null,
  };
}

/**
 * Field errors grouped by the form field that shows them.
 *
 * `fields` are the keys the form displays (e.g. `rounds`, `checkpoints.0`, `targets`). An
 * error goes to the longest key that equals its path or is a dotted prefix of it; errors
 * no key claims are returned under "" so the form can list them at the top.
 */
export function fieldErrorsFor(
  errors: readonly FieldError[],
  fields: readonly string[],
): Map<string, string[]> {
  const byField = new Map<string, string[]>();
  const sorted = [...fields].sort((a, b) => b.length - a.length);
  for (const error of errors) {
    const owner =
      sorted.find((key) => error.field === key || error.field.startsWith(`${key}.`)) ?? "";
    const list = byField.get(owner) ?? [];
    list.push(error.message);
    byField.set(owner, list);
  }
  return byField;
}

/** An error raised by the API client for any non-2xx answer. */
export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.name = "ApiError";
    this.problem = problem;
  }

  get status(): number {
    return this.problem.status;
  }
}
