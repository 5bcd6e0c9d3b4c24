// Dispatch from the site view: patrol, disinfection or guidance, with places picked on the
// map; server validation errors appear next to the field they name.

import { useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, fieldErrorsFor, type FieldError } from "../api/problem";
import type { Mission, SiteGraph } from "../api/types";
import { useApp } from "../context";
import {
  emptyDisinfection,
  emptyGuidance,
  emptyPatrol,
  missionBody,
  type CheckKind,
  type DisinfectionForm,
  type GuidanceForm,
  type MissionForm,
  type PatrolForm,
  type Priority,
} from "../missions/form";
import { DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2, defaultDose, estimateUvDwell, etaSeconds, type Organism } from "../missions/uv";
import { Link } from "../router";
import { formatDuration } from "../time/format";
import { FieldErrors } from "./FieldErrors";

const CHECKS: CheckKind[] = ["door_closed", "no_person", "smoke_absent", "no_intruder"];
const PRIORITIES: Priority[] = ["low", "normal", "high", "emergency"];

interface Props {
  siteId: string;
  graph: SiteGraph;
  form: MissionForm;
  setForm: (update: (form: MissionForm) => MissionForm) => void;
}

function numberOrNull(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

function Field({ label, errors, children, testId }: { label: string; errors?: string[]; children: ReactNode; testId?: string }) {
  return (
    <label className={errors?.length ? "field invalid" : "field"} data-testid={testId}>
      <span>{label}</span>
      {children}
      <FieldErrors errors={errors} />
    </label>
  );
}

export function DispatchPanel({ siteId, graph, form, setForm }: Props) {
  const { t, client, language } = useApp();
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [created, setCreated] = useState<Mission | null>(null);
  const [sending, setSending] = useState(false);
  const waypointNames = useMemo(
    () => graph.levels.flatMap((l) => l.waypoints.filter((w) => w.name).map((w) => w.name)).sort(),
    [graph],
  );
  const zones = useMemo(() => graph.levels.flatMap((l) => l.zones.map((z) => z.name)), [graph]);

  const switchKind = (kind: MissionForm["kind"]) => {
    setErrors([]);
    setCreated(null);
    setForm(() => (kind === "patrol" ? emptyPatrol(siteId) : kind === "disinfection" ? emptyDisinfection(siteId) : emptyGuidance(siteId, language)));
  };
  const update = <F extends MissionForm>(patch: Partial<F>) => setForm((f) => ({ ...f, ...patch }) as MissionForm);

  const fieldKeys = fieldKeysOf(form);
  const grouped = fieldErrorsFor(errors, fieldKeys);
  const err = (key: string) => grouped.get(key);

  const send = async () => {
    const built = missionBody(form);
    setCreated(null);
    if (!built.body) {
      setErrors(built.errors);
      return;
    }
    setSending(true);
    try {
      const mission = await client.post("/api/v1/missions", { json: built.body as never });
      setErrors([]);
      setCreated(mission);
      setForm(() => ({ ...form, ...(form.kind === "patrol" ? { checkpoints: [] } : form.kind === "disinfection" ? { targets: [] } : { from: "", to: "" }) }) as MissionForm);
    } catch (error) {
      if (error instanceof ApiError) {
        setErrors(error.problem.errors.length ? error.problem.errors : [{ field: "", message: error.message }]);
      } else {
        setErrors([{ field: "", message: String(error) }]);
      }
    } finally {
      setSending(false);
    }
  };

  return (
    <section className="card dispatch" data-testid="dispatch-panel">
      <h2>{t("dispatch.title")}</h2>
      <div className="tabs" role="tablist">
        {(["patrol", "disinfection", "guidance"] as const).map((kind) => (
          <button key={kind} type="button" role="tab" aria-selected={form.kind === kind} className={form.kind === kind ? "active" : ""} onClick={() => switchKind(kind)} data-testid={`dispatch-${kind}`}>
            {t(`dispatch.${kind}`)}
          </button>
        ))}
      </div>
      <p className="hint">{t(`dispatch.pickHint.${form.kind}`)}</p>
      <FieldErrors errors={grouped.get("")} testId="form-errors" />
      {form.kind === "patrol" && <PatrolFields form={form} update={update} err={err} zones={zones} />}
      {form.kind === "disinfection" && <DisinfectionFields siteId={siteId} form={form} update={update} err={err} zones={zones} />}
      {form.kind === "guidance" && <GuidanceFields form={form} update={update} err={err} names={waypointNames} />}
      <div className="row">
        <Field label={t("dispatch.priority")} errors={err("priority")}>
          <select value={form.priority} onChange={(e) => update({ priority: e.target.value as Priority })}>
            {PRIORITIES.map((p) => (
              <option key={p} value={p}>
                {t(`dispatch.priority.${p}`)}
              </option>
            ))}
          </select>
        </Field>
        <Field label={t("dispatch.name")} errors={err("name")}>
          <input value={form.name} onChange={(e) => update({ name: e.target.value })} />
        </Field>
      </div>
      <Field label={t("dispatch.robot")} errors={err("preferred_robot")}>
        <input value={form.preferredRobot} placeholder={t("dispatch.anyRobot")} onChange={(e) => update({ preferredRobot: e.target.value })} data-testid="preferred-robot" />
      </Field>
      <div className="row">
        <button type="button" className="primary" onClick={send} disabled={sending} data-testid="dispatch-send">
          {t("dispatch.send")}
        </button>
        <button type="button" onClick={() => switchKind(form.kind)}>
          {t("dispatch.clear")}
        </button>
      </div>
      {created && (
        <p className="ok" data-testid="dispatch-created" data-mission-id={created.id}>
          {t("dispatch.sent", { id: created.id.slice(0, 8) })} <Link to={`/missions/${created.id}`}>{t("missions.timeline")}</Link>
        </p>
      )}
    </section>
  );
}

function fieldKeysOf(form: MissionForm): string[] {
  const keys = ["site", "priority", "name", "preferred_robot"];
  if (form.kind === "patrol") {
    keys.push("checkpoints", "zone", "rounds", "dwell_s", "checks");
    form.checkpoints.forEach((_c, i) => keys.push(`checkpoints.${i}`));
  } else if (form.kind === "disinfection") {
    keys.push("targets", "method", "organism", "target_dose_mj_cm2", "distance_m", "agent", "rate_ml_per_m3", "room_volume_m3", "contact_time_s", "re_entry_time_s");
    form.targets.forEach((_c, i) => keys.push(`targets.${i}`));
  } else {
    keys.push("from", "to", "language", "wait_for_person_timeout_s", "max_speed_m_s");
  }
  return keys;
}

type Update<F> = (patch: Partial<F>) => void;
type Err = (key: string) => string[] | undefined;

function PatrolFields({ form, update, err, zones }: { form: PatrolForm; update: Update<PatrolForm>; err: Err; zones: string[] }) {
  const { t } = useApp();
  return (
    <>
      <Field label={t("dispatch.mode")}>
        <select value={form.mode} onChange={(e) => update({ mode: e.target.value as PatrolForm["mode"] })}>
          <option value="checkpoints">{t("dispatch.mode.checkpoints")}</option>
          <option value="zone" disabled={zones.length === 0}>
            {t("dispatch.mode.zone")}
          </option>
        </select>
      </Field>
      {form.mode === "zone" ? (
        <Field label={t("dispatch.zone")} errors={err("zone")}>
          <select value={form.zone} onChange={(e) => update({ zone: e.target.value })}>
            <option value="" />
            {zones.map((z) => (
              <option key={z}>{z}</option>
            ))}
          </select>
        </Field>
      ) : (
        <div className={err("checkpoints")?.length ? "field invalid" : "field"}>
          <span>{t("dispatch.checkpoints")}</span>
          <ol className="picks" data-testid="checkpoints">
            {form.checkpoints.map((cp, i) => (
              <li key={i}>
                <span>{cp.waypoint}</span>
                <input
                  className="small"
                  type="number"
                  min={0}
                  placeholder={String(form.dwellS)}
                  value={cp.dwellS ?? ""}
                  aria-label={t("dispatch.dwell")}
                  onChange={(e) => update({ checkpoints: form.checkpoints.map((c, j) => (j === i ? { ...c, dwellS: numberOrNull(e.target.value) } : c)) })}
                />
                <button type="button" className="link" onClick={() => update({ checkpoints: form.checkpoints.filter((_c, j) => j !== i) })}>
                  {t("dispatch.remove")}
                </button>
                <FieldErrors errors={err(`checkpoints.${i}`)} />
              </li>
            ))}
          </ol>
          <FieldErrors errors={err("checkpoints")} testId="error-checkpoints" />
        </div>
      )}
      <div className="row">
        <Field label={t("dispatch.rounds")} errors={err("rounds")} testId="field-rounds">
          <input
            type="number"
            min={1}
            value={form.rounds === "until_stopped" ? "" : form.rounds}
            disabled={form.rounds === "until_stopped"}
            onChange={(e) => update({ rounds: Number(e.target.value) })}
            data-testid="rounds"
          />
        </Field>
        <label className="check">
          <input type="checkbox" checked={form.rounds === "until_stopped"} onChange={(e) => update({ rounds: e.target.checked ? "until_stopped" : 1 })} />
          {t("dispatch.untilStopped")}
        </label>
        <Field label={t("dispatch.dwell")} errors={err("dwell_s")} testId="field-dwell">
          <input type="number" min={0} value={form.dwellS} onChange={(e) => update({ dwellS: Number(e.target.value) })} data-testid="dwell" />
        </Field>
      </div>
      <fieldset className="checks">
        <legend>{t("dispatch.checks")}</legend>
        {CHECKS.map((c) => (
          <label key={c} className="check">
            <input
              type="checkbox"
              checked={form.checks.includes(c)}
              onChange={(e) => update({ checks: e.target.checked ? [...form.checks, c] : form.checks.filter((x) => x !== c) })}
            />
            {t(`check.${c}`)}
          </label>
        ))}
        <FieldErrors errors={err("checks")} />
      </fieldset>
    </>
  );
}

function useTravelTimes(siteId: string, refs: string[]): number[] {
  const { client } = useApp();
  const [legs, setLegs] = useState<number[]>([]);
  const key = refs.join("\u0000");
  useEffect(() => {
    let cancelled = false;
    const pairs = refs.slice(1).map((to, i) => [refs[i] as string, to] as const);
    Promise.all(
      pairs.map(([from, to]) =>
        client
          .get("/api/v1/sites/{site_id}/route", { path: { site_id: siteId }, query: { from, to } })
          .then((r) => r.travel_time_s)
          .catch(() => 0),
      ),
    ).then((times) => !cancelled && setLegs(times));
    return () => {
      cancelled = true;
    };
    // `key` stands for `refs` by value: a new array with the same places must not refetch.
  }, [client, siteId, key]);
  return legs;
}

function DisinfectionFields({ siteId, form, update, err, zones }: { siteId: string; form: DisinfectionForm; update: Update<DisinfectionForm>; err: Err; zones: string[] }) {
  const { t, language } = useApp();
  const [room, setRoom] = useState("");
  const waypointRefs = form.targets.flatMap((tg) => (tg.type === "waypoint" ? [tg.waypoint] : []));
  const legs = useTravelTimes(siteId, waypointRefs);
  let estimate: { dwellS: (number | null)[]; text: string; rooms: number } | null = null;
  if (form.method === "uv" && form.targets.length) {
    const dose = form.doseMjCm2 ?? defaultDose(form.organism || null);
    const distance = form.distanceM ?? 1;
    try {
      const e = estimateUvDwell(form.targets.map((tg) => (tg.type === "room" ? { room: tg.room } : {})), dose, distance);
      estimate = {
        dwellS: e.dwellS,
        rooms: e.roomsUnplanned,
        text: t("dispatch.estimate", {
          dwell: formatDuration(e.totalDwellS, language, 1),
          travel: formatDuration(etaSeconds(legs, 0), language),
          eta: formatDuration(etaSeconds(legs, e.totalDwellS), language),
          irradiance: DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2,
        }),
      };
    } catch {
      estimate = null; // the dose or distance field shows what is wrong
    }
  }
  return (
    <>
      <Field label={t("dispatch.method")} errors={err("method")}>
        <select value={form.method} onChange={(e) => update({ method: e.target.value as DisinfectionForm["method"] })}>
          <option value="uv">{t("dispatch.method.uv")}</option>
          <option value="spray">{t("dispatch.method.spray")}</option>
        </select>
      </Field>
      <div className={err("targets")?.length ? "field invalid" : "field"}>
        <span>{t("dispatch.targets")}</span>
        <ol className="picks" data-testid="targets">
          {form.targets.map((tg, i) => (
            <li key={i}>
              <span>{tg.type === "waypoint" ? tg.waypoint : tg.type === "room" ? `▢ ${tg.room}` : `(${tg.x.toFixed(2)}, ${tg.y.toFixed(2)}) @ ${tg.level}`}</span>
              {estimate && (
                <span className="muted">
                  {estimate.dwellS[i] === null || estimate.dwellS[i] === undefined ? t("dispatch.roomPlanned") : t("dispatch.dwellEach", { dwell: formatDuration(estimate.dwellS[i] as number, language, 1) })}
                </span>
              )}
              <button type="button" className="link" onClick={() => update({ targets: form.targets.filter((_x, j) => j !== i) })}>
                {t("dispatch.remove")}
              </button>
              <FieldErrors errors={err(`targets.${i}`)} />
            </li>
          ))}
        </ol>
        <FieldErrors errors={err("targets")} />
        {zones.length > 0 && (
          <div className="row">
            <select value={room} onChange={(e) => setRoom(e.target.value)} aria-label={t("dispatch.addRoom")}>
              <option value="" />
              {zones.map((z) => (
                <option key={z}>{z}</option>
              ))}
            </select>
            <button type="button" disabled={!room} onClick={() => update({ targets: [...form.targets, { type: "room", room }] })}>
              {t("dispatch.addRoom")}
            </button>
          </div>
        )}
      </div>
      {form.method === "uv" ? (
        <>
          <div className="row">
            <Field label={t("dispatch.organism")} errors={err("organism")}>
              <select value={form.organism} onChange={(e) => update({ organism: e.target.value as Organism | "" })}>
                <option value="">{t("organism.none")}</option>
                {(["vegetative_bacteria", "virus", "unknown"] as const).map((o) => (
                  <option key={o} value={o}>
                    {t(`organism.${o}`)}
                  </option>
                ))}
              </select>
            </Field>
            <Field label={t("dispatch.dose")} errors={err("target_dose_mj_cm2")}>
              <input type="number" min={0} value={form.doseMjCm2 ?? ""} onChange={(e) => update({ doseMjCm2: numberOrNull(e.target.value) })} data-testid="dose" />
            </Field>
            <Field label={t("dispatch.distance")} errors={err("distance_m")}>
              <input type="number" min={0} step={0.1} value={form.distanceM ?? ""} onChange={(e) => update({ distanceM: numberOrNull(e.target.value) })} />
            </Field>
          </div>
          {estimate && (
            <p className="estimate" data-testid="uv-estimate">
              {estimate.text}
              {estimate.rooms > 0 && <> {t("dispatch.estimateRooms", { n: estimate.rooms })}</>}
            </p>
          )}
        </>
      ) : (
        <div className="grid2">
          <Field label={t("dispatch.agent")} errors={err("agent")}>
            <input value={form.agent} onChange={(e) => update({ agent: e.target.value })} />
          </Field>
          <Field label={t("dispatch.rate")} errors={err("rate_ml_per_m3")}>
            <input type="number" value={form.rateMlPerM3 ?? ""} onChange={(e) => update({ rateMlPerM3: numberOrNull(e.target.value) })} />
          </Field>
          <Field label={t("dispatch.volume")} errors={err("room_volume_m3")}>
            <input type="number" value={form.roomVolumeM3 ?? ""} onChange={(e) => update({ roomVolumeM3: numberOrNull(e.target.value) })} />
          </Field>
          <Field label={t("dispatch.contact")} errors={err("contact_time_s")}>
            <input type="number" value={form.contactTimeS ?? ""} onChange={(e) => update({ contactTimeS: numberOrNull(e.target.value) })} />
          </Field>
          <Field label={t("dispatch.reentry")} errors={err("re_entry_time_s")}>
            <input type="number" value={form.reEntryTimeS ?? ""} onChange={(e) => update({ reEntryTimeS: numberOrNull(e.target.value) })} />
          </Field>
        </div>
      )}
    </>
  );
}

function GuidanceFields({ form, update, err, names }: { form: GuidanceForm; update: Update<GuidanceForm>; err: Err; names: string[] }) {
  const { t } = useApp();
  const place = (key: "from" | "to") => (
    <Field label={t(`dispatch.${key}`)} errors={err(key)} testId={`field-${key}`}>
      <select value={form[key]} onChange={(e) => update({ [key]: e.target.value } as Partial<GuidanceForm>)} data-testid={`guidance-${key}`}>
        <option value="" />
        {names.map((n) => (
          <option key={n}>{n}</option>
        ))}
      </select>
    </Field>
  );
  return (
    <>
      <div className="row">
        {place("from")}
        {place("to")}
      </div>
      <div className="row">
        <Field label={t("dispatch.language")} errors={err("language")}>
          <select value={form.language} onChange={(e) => update({ language: e.target.value as GuidanceForm["language"] })}>
            <option value="zh-CN">中文</option>
            <option value="en">English</option>
          </select>
        </Field>
        <Field label={t("dispatch.wait")} errors={err("wait_for_person_timeout_s")}>
          <input type="number" placeholder="120" value={form.waitTimeoutS ?? ""} onChange={(e) => update({ waitTimeoutS: numberOrNull(e.target.value) })} />
        </Field>
        <Field label={t("dispatch.speed")} errors={err("max_speed_m_s")}>
          <input type="number" step={0.1} placeholder="0.5" value={form.maxSpeedMS ?? ""} onChange={(e) => update({ maxSpeedMS: numberOrNull(e.target.value) })} />
        </Field>
      </div>
    </>
  );
}
