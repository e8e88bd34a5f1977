import { configureStore } from "@reduxjs/toolkit";
import { useDispatch, useSelector } from "react-redux";
import { api } from "../api/api";
import auth, { initialAuth } from "../features/auth/authSlice";
import chat from "../features/chat/chatSlice";
import executions from "../features/executions/executionsSlice";
import connection from "./connection";
import forms, { draftsOf, formsFromDrafts } from "./forms";
import { loadPersisted, savePersisted, type Persisted } from "./persist";
import theme from "./theme";

const reducer = {
  [api.reducerPath]: api.reducer,
  auth,
  chat,
  connection,
  executions,
  forms,
  theme,
};

export function createStore(persisted: Persisted = loadPersisted()) {
  return configureStore({
    reducer,
    preloadedState: {
      auth: initialAuth(persisted.session),
      forms: formsFromDrafts(persisted.drafts),
      theme: persisted.theme,
    },
    middleware: (getDefault) => getDefault().concat(api.middleware),
  });
}

export type AppStore = ReturnType<typeof createStore>;
export type RootState = ReturnType<AppStore["getState"]>;
export type AppDispatch = AppStore["dispatch"];

export const useAppDispatch = useDispatch.withTypes<AppDispatch>();
export const useAppSelector = useSelector.withTypes<RootState>();

/** Save drafts, theme and session whenever they change (at most every 300 ms). */
export function persistChanges(store: AppStore, save = savePersisted): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last: unknown[] = [];
  return store.subscribe(() => {
    const { forms: f, theme: t, auth: a } = store.getState();
    const current = [f, t, a.session];
    if (current.every((value, i) => value === last[i])) return;
    const sessionChanged = a.session !== last[2];
    last = current;
    if (timer) clearTimeout(timer);
    const write = () => {
      const state = store.getState();
      save({ drafts: draftsOf(state.forms), theme: state.theme, session: state.auth.session });
    };
    // A new or ended session is saved at once (a reload right after signing in keeps it);
    // drafts and theme are batched.
    if (sessionChanged) write();
    else timer = setTimeout(write, 300);
  });
}
