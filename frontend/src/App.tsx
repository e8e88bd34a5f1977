import { lazy, Suspense, useEffect } from "react";
import { Link, Navigate, Route, Routes } from "react-router-dom";
import { Layout } from "./components/Layout";
import { authApi } from "./features/auth/api";
import { isAdmin, isAllowedIn } from "./features/auth/authSlice";
import { refreshNow } from "./features/auth/credentials";
import { refreshDelay } from "./features/auth/session";
import { SignInPage } from "./features/auth/SignInPage";
import { CatalogPage } from "./features/workflows/CatalogPage";
import { useTheme } from "./lib/useTheme";
import { useAppDispatch, useAppSelector } from "./store";

// Everything but the catalog loads on demand: the form library, charts and chat stay out of the
// first download.
const RunPage = lazy(() => import("./features/workflows/RunPage"));
const ExecutionPage = lazy(() => import("./features/executions/ExecutionPage"));
const HistoryPage = lazy(() => import("./features/executions/HistoryPage"));
const ToolsPage = lazy(() => import("./features/tools/ToolsPage"));
const ChatPage = lazy(() => import("./features/chat/ChatPage"));
const AdminPage = lazy(() => import("./features/admin/AdminPage"));

function useSilentRefresh(): void {
  const dispatch = useAppDispatch();
  const session = useAppSelector((state) => state.auth.session);
  useEffect(() => {
    if (!session) return;
    const timer = setTimeout(
      () => void refreshNow({ dispatch }),
      refreshDelay(session, Date.now()),
    );
    return () => clearTimeout(timer);
  }, [dispatch, session]);
}

/** Ask the server whether sign-in is needed, at start and after an OpenID Connect login. */
function useAuthProbe(probing: boolean): void {
  const dispatch = useAppDispatch();
  useEffect(() => {
    if (!probing) return;
    void dispatch(
      authApi.endpoints.probe.initiate(undefined, { forceRefetch: true, subscribe: false }),
    );
  }, [dispatch, probing]);
}

export function App() {
  const auth = useAppSelector((state) => state.auth);
  const allowed = isAllowedIn(auth);
  useTheme();
  useSilentRefresh();
  useAuthProbe(auth.mode === "probing");

  if (auth.mode === "probing") {
    return (
      <div className="splash" role="status">
        Loading NanoBrain…
      </div>
    );
  }
  if (!allowed) return <SignInPage />;
  return (
    <Layout>
      <Suspense
        fallback={
          <p className="muted" role="status">
            Loading…
          </p>
        }
      >
        <Routes>
          <Route path="/" element={<CatalogPage />} />
          <Route path="/workflows/:name" element={<RunPage />} />
          <Route path="/executions/:id" element={<ExecutionPage />} />
          <Route path="/history" element={<HistoryPage />} />
          <Route path="/tools" element={<ToolsPage />} />
          <Route path="/chat" element={<ChatPage />} />
          <Route path="/chat/:sessionId" element={<ChatPage />} />
          <Route
            path="/admin"
            element={isAdmin(auth) ? <AdminPage /> : <Navigate to="/" replace />}
          />
          <Route path="/signin" element={<Navigate to="/" replace />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Suspense>
    </Layout>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. <Link to="/">Back to the workflows</Link>.
      </p>
    </section>
  );
}
