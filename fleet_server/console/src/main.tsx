import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiClient } from "./api/client";
import { Session } from "./auth/session";
import { App } from "./App";
import "./styles.css";

const session = new Session(window.localStorage);
const client = new ApiClient(session);

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <App session={session} client={client} />
  </StrictMode>,
);
