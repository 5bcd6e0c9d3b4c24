import { useState, type FormEvent } from "react";
import { ApiError } from "../api/problem";
import type { Session } from "../auth/session";
import type { Language, Translate } from "../i18n/i18n";
import { LanguageSwitch } from "../App";

export function LoginPage(props: { session: Session; t: Translate; language: Language; setLanguage: (l: Language) => void }) {
  const { session, t } = props;
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      await session.signIn(username, password);
    } catch (error) {
      if (error instanceof ApiError && error.problem.retryAfterS !== null) {
        setMessage(t("login.locked", { seconds: error.problem.retryAfterS }));
      } else {
        setMessage(t("login.failed", { detail: error instanceof Error ? error.message : String(error) }));
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="login">
      <form onSubmit={submit} className="card" aria-label={t("login.title")}>
        <div className="row spread">
          <h1>{t("app.title")}</h1>
          <LanguageSwitch language={props.language} setLanguage={props.setLanguage} t={t} />
        </div>
        <h2>{t("login.title")}</h2>
        <label>
          {t("login.username")}
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required />
        </label>
        <label>
          {t("login.password")}
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {message && (
          <p className="error" role="alert">
            {message}
          </p>
        )}
        <button type="submit" disabled={busy} className="primary">
          {t("login.submit")}
        </button>
      </form>
    </div>
  );
}
