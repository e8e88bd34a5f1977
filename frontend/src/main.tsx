import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { Provider } from "react-redux";
import { BrowserRouter } from "react-router-dom";
import { App } from "./App";
import { connectCredentials } from "./features/auth/credentials";
import { createStore, persistChanges } from "./store";
import { sessionReceived } from "./features/auth/authSlice";
import { sessionFromFragment } from "./features/auth/session";
import { browserOnlineChanged, reachabilityChanged } from "./store/connection";
import { onReachability } from "./api/client";
import "./styles.css";

const store = createStore();
persistChanges(store);
connectCredentials(store);
onReachability((reachable) => {
  if (store.getState().connection.reachable !== reachable) {
    store.dispatch(reachabilityChanged(reachable));
  }
});
window.addEventListener("online", () => store.dispatch(browserOnlineChanged(true)));
window.addEventListener("offline", () => store.dispatch(browserOnlineChanged(false)));

// An OpenID Connect login ends with the tokens in the URL fragment; take them and clean the URL.
const oidc = sessionFromFragment(window.location.hash, Date.now());
if (oidc) {
  store.dispatch(sessionReceived(oidc));
  history.replaceState(null, "", window.location.pathname + window.location.search);
}

const basename = new URL(document.baseURI).pathname.replace(/\/$/, "");
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <Provider store={store}>
        <BrowserRouter basename={basename}>
          <App />
        </BrowserRouter>
      </Provider>
    </StrictMode>,
  );
}
