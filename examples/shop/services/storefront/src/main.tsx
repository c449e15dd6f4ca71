import { type ReactNode, StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { createItemsApi, serviceBaseUrl } from "./api/client";
import { App } from "./App";
import { Auth } from "./auth";
import { type AuthConfig, loadConfig } from "./config";
import { API_SERVICE } from "./service";
import { SignIn } from "./SignIn";
import "./styles.css";
import { startTracing } from "./tracing";

type Show = (page: ReactNode) => void;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The page when the API takes tokens: finish a login under way, or ask for one; a 401 logs in again. */
async function startWithLogin(config: AuthConfig, baseUrl: string, show: Show): Promise<void> {
  const auth = new Auth({
    config,
    // The page's root, as registered at the issuer for this client (docs: the frontend's README).
    redirectUri: `${window.location.origin}/`,
    storage: window.sessionStorage,
    navigate: (url) => {
      window.location.assign(url);
    },
  });
  let leaving = false;
  const logIn = () => {
    if (leaving) {
      return; // several calls answered 401 at once: one trip to the issuer
    }
    leaving = true;
    auth.login(window.location.pathname + window.location.search).catch((error: unknown) => {
      leaving = false;
      signIn(messageOf(error));
    });
  };
  const signIn = (message?: string) => {
    show(<SignIn service={API_SERVICE} message={message} logIn={logIn} />);
  };

  try {
    const returnTo = await auth.completeLogin(new URL(window.location.href));
    if (returnTo !== null) {
      window.history.replaceState(null, "", returnTo); // the code is used: out of the address bar
    }
  } catch (error) {
    window.history.replaceState(null, "", "/");
    signIn(messageOf(error));
    return;
  }
  const session = auth.session();
  if (session === null) {
    signIn();
    return;
  }
  const api = createItemsApi(baseUrl, {
    accessToken: () => auth.session()?.accessToken,
    onUnauthorized: () => {
      if (auth.refused()) {
        logIn();
      } else {
        signIn(
          "The API refused the token the issuer has just given (401): the page's and the API's AUTH_* settings differ.",
        );
      }
    },
  });
  const logOut = () => {
    void auth.logout().then(() => {
      signIn("You are logged out.");
    });
  };
  const account = { user: session.user, logOut };
  show(<App api={api} service={API_SERVICE} account={account} />);
}

async function main(root: HTMLElement): Promise<void> {
  const reactRoot = createRoot(root);
  const show: Show = (page) => {
    reactRoot.render(<StrictMode>{page}</StrictMode>);
  };
  try {
    const config = await loadConfig(window.location.origin);
    for (const warning of config.warnings) {
      console.warn(`config.json: ${warning}`);
    }
    // Before the first API call, so that every call carries `traceparent`.
    const tracing = startTracing(config.tracing, config.apiBaseUrl);
    window.addEventListener("pagehide", () => void tracing.flush());
    const baseUrl = serviceBaseUrl(config.apiBaseUrl, API_SERVICE);
    if (config.auth === null) {
      show(<App api={createItemsApi(baseUrl)} service={API_SERVICE} />);
    } else {
      await startWithLogin(config.auth, baseUrl, show);
    }
  } catch (error) {
    console.error(error);
    show(
      <main>
        <p role="alert">The page could not start: {messageOf(error)}</p>
      </main>,
    );
  }
}

const root = document.getElementById("root");
if (root === null) {
  throw new Error("index.html has no #root element");
}
void main(root);
