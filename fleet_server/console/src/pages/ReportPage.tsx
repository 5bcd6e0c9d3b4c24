import { useEffect, useRef, useState } from "react";
import { useApp } from "../context";

/** The server's printable HTML report, fetched with the token and shown in a sandboxed frame. */
export function ReportPage({ missionId }: { missionId: string }) {
  const { t, client, language } = useApp();
  const [html, setHtml] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const frame = useRef<HTMLIFrameElement | null>(null);
  useEffect(() => {
    let cancelled = false;
    setHtml(null);
    client
      .fetchRaw(client.url("/api/v1/missions/{mission_id}/report", { mission_id: missionId }, { format: "html", language }))
      .then(async (r) => {
        if (cancelled) return;
        if (!r.ok) setMissing(true);
        else setHtml(await r.text());
      })
      .catch(() => !cancelled && setMissing(true));
    return () => {
      cancelled = true;
    };
  }, [client, missionId, language]);
  return (
    <div className="page report">
      <div className="row spread no-print">
        <h1>{t("report.title")}</h1>
        <button type="button" disabled={!html} onClick={() => frame.current?.contentWindow?.print()}>
          {t("report.print")}
        </button>
      </div>
      {missing && <p className="muted">{t("report.none")}</p>}
      {html && <iframe ref={frame} title={t("report.title")} srcDoc={html} sandbox="allow-modals allow-same-origin" className="report-frame" data-testid="report-frame" />}
    </div>
  );
}
