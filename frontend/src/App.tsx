import { lazy, Suspense, useEffect } from "react";
import { Link, Navigate, Route, Routes } from "react-router-dom";
import { Layout } from "./components/Layout";
import { CatalogPage } from "./pages/CatalogPage";
import { SignInPage } from "./pages/SignInPage";
import { useAppDispatch, useAppSelector } from "./store";
import { isAdmin, isAllowedIn, probeAuth, refreshDelay, refreshSession } from "./store/auth";
import { loadCatalog } from "./store/catalog";
import { useTheme } from "./lib/useTheme";

// Everything but the catalog loads on demand: the form library, charts and chat stay out of the
// first download.
const RunPage = lazy(() => import("./pages/RunPage"));
const ExecutionPage = lazy(() => import("./pages/ExecutionPage"));
const HistoryPage = lazy(() => import("./pages/HistoryPage"));
const ToolsPage = lazy(() => import("./pages/ToolsPage"));
const ChatPage = lazy(() => import("./pages/ChatPage"));
const AdminPage = lazy(() => import("./pages/AdminPage"));

function useSilentRefresh(): void {
  const dispatch = useAppDispatch();
  const session = useAppSelector((state) => state.auth.session);
  useEffect(() => {
    if (!session) return;
    const timer = setTimeout(
      () => void dispatch(refreshSession()),
      refreshDelay(session, Date.now()),
    );
    return () => clearTimeout(timer);
  }, [dispatch, session]);
}

export function App() {
  const dispatch = useAppDispatch();
  const auth = useAppSelector((state) => state.auth);
  const allowed = isAllowedIn(auth);
  const signedInUser = auth.user?.id;
  useTheme();
  useSilentRefresh();

  useEffect(() => {
    if (auth.mode === "probing") void dispatch(probeAuth());
  }, [dispatch, auth.mode]);
  useEffect(() => {
    if (allowed) void dispatch(loadCatalog());
  }, [dispatch, allowed, signedInUser]);

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
