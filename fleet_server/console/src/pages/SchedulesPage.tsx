import { useEffect, useMemo, useState } from "react";
import { ApiError, type FieldError } from "../api/problem";
import { canManageSchedules } from "../auth/roles";
import { FieldErrors } from "../components/FieldErrors";
import { ErrorNote, useApp } from "../context";
import { HttpSchedulesApi, SCHEDULES_ENDPOINT, type Schedule } from "../schedules/api";
import {
  asHoursWindow,
  defaultRecurrence,
  fromRRuleString,
  hoursWindow,
  nextOccurrences,
  toRRuleString,
  WEEKDAYS,
  type Frequency,
  type Recurrence,
} from "../schedules/rrule";
import { formatDateTime, zoneOfSite } from "../time/format";

function todayAt(hour: number): string {
  const d = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(hour)}:00`;
}

export function SchedulesPage() {
  const { t, client, sites, language, grants } = useApp();
  const api = useMemo(() => new HttpSchedulesApi(client), [client]);
  const [siteId, setSiteId] = useState(sites[0]?.id ?? "");
  const [recurrence, setRecurrence] = useState<Recurrence>(() => ({ ...defaultRecurrence(), hours: hoursWindow(22, 6) }));
  const [ruleText, setRuleText] = useState(() => toRRuleString({ ...defaultRecurrence(), hours: hoursWindow(22, 6) }));
  const [textProblem, setTextProblem] = useState<string | null>(null);
  const [dtstart, setDtstart] = useState(todayAt(22));
  const [exdates, setExdates] = useState<string[]>([]);
  const [name, setName] = useState("");
  const [missionText, setMissionText] = useState("");
  const [saved, setSaved] = useState<Schedule[] | null | undefined>(undefined);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [loadError, setLoadError] = useState<Error | null>(null);
  const zone = zoneOfSite(sites.find((s) => s.id === siteId));

  useEffect(() => {
    setMissionText(JSON.stringify({ kind: "patrol", site: siteId, checkpoints: [], rounds: 1, dwell_s: 10 }, null, 2));
    api.list(siteId).then(setSaved, (e: unknown) => setLoadError(e instanceof Error ? e : new Error(String(e))));
  }, [api, siteId]);

  const setFriendly = (patch: Partial<Recurrence>) => {
    const next = { ...recurrence, ...patch };
    setRecurrence(next);
    try {
      setRuleText(toRRuleString(next));
      setTextProblem(null);
    } catch (e) {
      setTextProblem(e instanceof Error ? e.message : String(e));
    }
  };
  const setText = (text: string) => {
    setRuleText(text);
    try {
      setRecurrence(fromRRuleString(text));
      setTextProblem(null);
    } catch (e) {
      setTextProblem(e instanceof Error ? e.message : String(e));
    }
  };

  let upcoming: Date[] = [];
  let previewProblem: string | null = null;
  try {
    upcoming = textProblem ? [] : nextOccurrences(ruleText, dtstart, zone, new Date(), 10, exdates);
  } catch (e) {
    previewProblem = e instanceof Error ? e.message : String(e);
  }
  const window_ = asHoursWindow(recurrence.hours);

  const save = async () => {
    setErrors([]);
    let mission: Record<string, unknown>;
    try {
      mission = JSON.parse(missionText) as Record<string, unknown>;
    } catch (e) {
      setErrors([{ field: "mission", message: e instanceof Error ? e.message : String(e) }]);
      return;
    }
    try {
      await api.save({ site_id: siteId, name, rrule: ruleText, dtstart, timezone: zone, exdates, mission_template: mission, enabled: true });
      setSaved(await api.list(siteId));
    } catch (e) {
      if (e instanceof ApiError) setErrors(e.problem.errors.length ? e.problem.errors : [{ field: "", message: e.message }]);
      else setErrors([{ field: "", message: String(e) }]);
    }
  };

  const mayEdit = canManageSchedules(grants, siteId);
  return (
    <div className="page schedules">
      <h1>{t("schedules.title")}</h1>
      {loadError && <ErrorNote error={loadError} t={t} />}
      {saved === null && (
        <p className="notice" data-testid="schedules-unavailable">
          {t("common.unavailable", { what: t("schedules.title"), endpoint: SCHEDULES_ENDPOINT })}
        </p>
      )}
      <div className="two-columns">
        <section className="card">
          <h2>{t("schedules.editor")}</h2>
          <label className="field">
            <span>{t("missions.site")}</span>
            <select value={siteId} onChange={(e) => setSiteId(e.target.value)}>
              {sites.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>{t("dispatch.name")}</span>
            <input value={name} onChange={(e) => setName(e.target.value)} data-testid="schedule-name" />
          </label>
          <div className="row">
            <label className="field">
              <span>{t("schedules.freq")}</span>
              <select value={recurrence.freq} onChange={(e) => setFriendly({ freq: e.target.value as Frequency })} data-testid="freq">
                {(["HOURLY", "DAILY", "WEEKLY", "MONTHLY"] as const).map((f) => (
                  <option key={f} value={f}>
                    {t(`schedules.freq.${f}`)}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              <span>{t("schedules.interval")}</span>
              <input type="number" min={1} value={recurrence.interval} onChange={(e) => setFriendly({ interval: Number(e.target.value) })} />
            </label>
            <label className="field">
              <span>{t("schedules.minute")}</span>
              <input type="number" min={0} max={59} value={recurrence.minute} onChange={(e) => setFriendly({ minute: Number(e.target.value) })} />
            </label>
          </div>
          <fieldset>
            <legend>{t("schedules.weekdays")}</legend>
            {WEEKDAYS.map((d) => (
              <label key={d} className="check">
                <input
                  type="checkbox"
                  checked={recurrence.weekdays.includes(d)}
                  onChange={(e) => setFriendly({ weekdays: e.target.checked ? [...recurrence.weekdays, d] : recurrence.weekdays.filter((x) => x !== d) })}
                />
                {t(`weekday.${d}`)}
              </label>
            ))}
          </fieldset>
          {recurrence.freq === "MONTHLY" && (
            <label className="field">
              <span>{t("schedules.monthDays")}</span>
              <input
                value={recurrence.monthDays.join(",")}
                onChange={(e) => setFriendly({ monthDays: e.target.value.split(",").map((x) => Number(x.trim())).filter((x) => x !== 0 && Number.isFinite(x)) })}
              />
            </label>
          )}
          {recurrence.freq !== "HOURLY" && (
            <div className="row">
              <label className="field">
                <span>{t("schedules.hours")}</span>
                <input
                  value={recurrence.hours.join(",")}
                  onChange={(e) => setFriendly({ hours: e.target.value.split(",").filter((x) => x.trim() !== "").map((x) => Number(x.trim())) })}
                  data-testid="hours"
                />
              </label>
              <HoursWindowPicker initial={window_ ?? { start: 22, end: 6, step: 1 }} onApply={(hours) => setFriendly({ hours })} />
            </div>
          )}
          <div className="row">
            <label className="field">
              <span>{t("schedules.start")}</span>
              <input type="datetime-local" value={dtstart} onChange={(e) => setDtstart(e.target.value)} />
            </label>
            <label className="field">
              <span>{t("schedules.end")}</span>
              <select
                value={recurrence.count !== null ? "count" : recurrence.until !== null ? "until" : "never"}
                onChange={(e) => setFriendly({ count: e.target.value === "count" ? 10 : null, until: e.target.value === "until" ? dtstart.slice(0, 10) : null })}
              >
                <option value="never">{t("schedules.never")}</option>
                <option value="count">{t("schedules.after")}</option>
                <option value="until">{t("schedules.until")}</option>
              </select>
            </label>
            {recurrence.count !== null && <input type="number" min={1} value={recurrence.count} onChange={(e) => setFriendly({ count: Number(e.target.value) })} />}
            {recurrence.until !== null && <input type="date" value={recurrence.until} onChange={(e) => setFriendly({ until: e.target.value })} />}
          </div>
          <label className="field">
            <span>{t("schedules.rule")}</span>
            <input className="mono" value={ruleText} onChange={(e) => setText(e.target.value)} data-testid="rrule" />
          </label>
          {textProblem && <p className="error">{t("schedules.textOnly", { detail: textProblem })}</p>}
          <label className="field">
            <span>{t("schedules.mission")}</span>
            <textarea className="mono" rows={6} value={missionText} onChange={(e) => setMissionText(e.target.value)} data-testid="schedule-template" />
          </label>
          <FieldErrors errors={errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message))} />
          {mayEdit && (
            <button type="button" className="primary" onClick={save} disabled={saved === null || Boolean(textProblem)} data-testid="schedule-save">
              {t("common.save")}
            </button>
          )}
        </section>
        <section className="card">
          <h2>{t("schedules.next", { zone })}</h2>
          {previewProblem && <p className="error">{previewProblem}</p>}
          <ol data-testid="next-occurrences">
            {upcoming.map((d) => {
              const wall = formatDateTime(d, zone, language).replace(" ", "T").slice(0, 16);
              return (
                <li key={d.toISOString()}>
                  {formatDateTime(d, zone, language)}{" "}
                  <button type="button" className="link" onClick={() => setExdates([...exdates, wall])}>
                    {t("schedules.addException")}
                  </button>
                </li>
              );
            })}
          </ol>
          {exdates.length > 0 && (
            <>
              <h3>{t("schedules.exceptions")}</h3>
              <ul>
                {exdates.map((e) => (
                  <li key={e}>
                    {e.replace("T", " ")}{" "}
                    <button type="button" className="link" onClick={() => setExdates(exdates.filter((x) => x !== e))}>
                      {t("dispatch.remove")}
                    </button>
                  </li>
                ))}
              </ul>
            </>
          )}
          {saved && saved.length > 0 && (
            <>
              <h3>{t("schedules.existing")}</h3>
              <ul data-testid="saved-schedules">
                {saved.map((s) => (
                  <li key={s.id}>
                    {s.name} <code>{s.rrule}</code>
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      </div>
    </div>
  );
}

function HoursWindowPicker({ initial, onApply }: { initial: { start: number; end: number; step: number }; onApply: (hours: number[]) => void }) {
  const { t } = useApp();
  const [w, setW] = useState(initial);
  const num = (key: "start" | "end" | "step") => (
    <input className="small" type="number" min={key === "step" ? 1 : 0} max={23} value={w[key]} onChange={(e) => setW({ ...w, [key]: Number(e.target.value) })} />
  );
  return (
    <span className="window-picker">
      {num("start")}–{num("end")} / {num("step")} h{" "}
      <button
        type="button"
        onClick={() => {
          try {
            onApply(hoursWindow(w.start, w.end, w.step));
          } catch {
            // the numbers are out of range; the inputs' limits show which
          }
        }}
      >
        {t("common.apply")}
      </button>
    </span>
  );
}
