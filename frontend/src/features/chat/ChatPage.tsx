import {
  lazy,
  Suspense,
  useEffect,
  useMemo,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
} from "react";
import { useStore } from "react-redux";
import { useNavigate, useParams } from "react-router-dom";
import { authHeaders, errorMessage, isMissingEndpoint } from "../../api/client";
import { SocketClient } from "../../api/socket";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useAppDispatch, useAppSelector, type RootState } from "../../store";
import { streamStateChanged } from "../../store/connection";
import { formatBytes, uploadFile } from "../files/upload";
import {
  chatApi,
  SESSION_LIST,
  useChatHistoryQuery,
  useChatSessionsQuery,
  useDeleteChatSessionMutation,
} from "./api";
import { messageSent, NEW_SESSION, sessionOpened, type DisplayMessage } from "./chatSlice";
import { startTurn, type RunningTurn } from "./chatTurn";

const MarkdownView = lazy(() => import("../../results/MarkdownView"));

type Availability = "unknown" | "yes" | "no";

/** Whether this server has chat: it answers the session list (a 404 or 405 means no). */
function availability(sessions: { isSuccess: boolean; error?: unknown }): Availability {
  if (sessions.isSuccess) return "yes";
  return sessions.error && isMissingEndpoint(sessions.error) ? "no" : "unknown";
}

const failure = (error: unknown) => (error ? errorMessage(error) : null);

function useSocket(enabled: boolean): SocketClient | null {
  const dispatch = useAppDispatch();
  const socket = useMemo(
    () =>
      enabled
        ? new SocketClient({
            token: async () => (await authHeaders()).Authorization?.replace(/^Bearer /, "") ?? null,
            onState: (state) =>
              dispatch(
                streamStateChanged({
                  key: "socket",
                  state: state === "unavailable" ? "closed" : state,
                }),
              ),
          })
        : null,
    [dispatch, enabled],
  );
  useEffect(() => {
    if (!socket) return;
    socket.connect();
    return () => socket.close();
  }, [socket]);
  return socket;
}

function Message({ message }: { message: DisplayMessage }) {
  return (
    <li
      className="message"
      data-role={message.role}
      data-pending={message.pending ?? false}
      data-failed={message.failed ?? false}
    >
      <span className="visually-hidden">{message.role === "user" ? "You" : message.role}:</span>
      <Suspense fallback={<p>{message.content}</p>}>
        <MarkdownView text={message.content} />
      </Suspense>
      {message.attachments && message.attachments.length > 0 && (
        <p className="muted small">{message.attachments.length} attachment(s)</p>
      )}
      {message.stopped && <p className="muted small">stopped</p>}
      {message.failed && <p className="error small">not delivered</p>}
    </li>
  );
}

function Composer({
  onSend,
  onStop,
  busy,
}: {
  onSend: (text: string, attachments: string[]) => void;
  onStop: () => void;
  busy: boolean;
}) {
  const [text, setText] = useState("");
  const [attachments, setAttachments] = useState<{ id: string; name: string }[]>([]);
  const [uploading, setUploading] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!text.trim() || busy) return;
    onSend(
      text,
      attachments.map((a) => a.id),
    );
    setText("");
    setAttachments([]);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey) submit(event);
  };
  const attach = (file: File) => {
    setError(null);
    setUploading(0);
    uploadFile(file, setUploading).promise.then(
      (info) => {
        setUploading(null);
        setAttachments((list) => [
          ...list,
          { id: info.file_id, name: `${info.filename} (${formatBytes(info.size)})` },
        ]);
      },
      (caught: unknown) => {
        setUploading(null);
        setError(errorMessage(caught));
      },
    );
  };

  return (
    <form className="composer" onSubmit={submit}>
      {attachments.length > 0 && (
        <ul className="attachments" aria-label="Attachments">
          {attachments.map((a) => (
            <li key={a.id} className="chip">
              {a.name}
            </li>
          ))}
        </ul>
      )}
      {uploading !== null && <progress max={1} value={uploading} aria-label="Attachment upload" />}
      <ErrorMessage message={error} />
      <label htmlFor="chat-input" className="visually-hidden">
        Message
      </label>
      <textarea
        id="chat-input"
        rows={2}
        value={text}
        placeholder="Write a message (Enter to send, Shift+Enter for a new line)"
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="composer-actions">
        <input
          ref={fileInput}
          type="file"
          className="visually-hidden"
          aria-label="Attach a file"
          onChange={(event) => {
            const file = event.target.files?.[0];
            if (file) attach(file);
            event.target.value = "";
          }}
        />
        <button type="button" className="button-quiet" onClick={() => fileInput.current?.click()}>
          Attach
        </button>
        {busy ? (
          <button type="button" className="button-danger" onClick={onStop}>
            Stop
          </button>
        ) : (
          <button type="submit" disabled={!text.trim()}>
            Send
          </button>
        )}
      </div>
    </form>
  );
}

/** Chat: sessions, streaming replies with a typing indicator, stop, attachments, history. */
export default function ChatPage() {
  const dispatch = useAppDispatch();
  const store = useStore<RootState>();
  const navigate = useNavigate();
  const { sessionId } = useParams();
  const chat = useAppSelector((state) => state.chat);
  const sessions = useChatSessionsQuery();
  const available = availability(sessions);
  const socket = useSocket(available === "yes");
  const running = useRef<RunningTurn | null>(null);
  const active = sessionId ?? NEW_SESSION;
  const messages = chat.messages[active] ?? [];
  const list = useRef<HTMLOListElement>(null);
  // The chat slice takes the history in, keeping messages still being sent.
  const history = useChatHistoryQuery(
    { session_id: active, limit: 200 },
    { skip: active === NEW_SESSION || available !== "yes", refetchOnMountOrArgChange: true },
  );
  const [deleteSession, deletion] = useDeleteChatSessionMutation();
  const error =
    failure(deletion.error) ??
    failure(history.error) ??
    (available === "unknown" ? failure(sessions.error) : null);

  useEffect(() => {
    dispatch(sessionOpened(active));
  }, [dispatch, active]);

  // A new session gets its id from the server mid-turn: list it, and follow it in the address.
  useEffect(() => {
    if (chat.active !== NEW_SESSION && chat.active !== active) {
      dispatch(chatApi.util.invalidateTags([SESSION_LIST]));
      void navigate(`/chat/${chat.active}`, { replace: true });
    }
  }, [dispatch, chat.active, active, navigate]);

  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView?.({ block: "end" });
  }, [messages.length, chat.turn?.text]);

  if (available === "no") {
    return (
      <section className="card">
        <h1>Chat</h1>
        <p>
          Chat is not available on this server: it has no chat endpoints (<code>/api/v1/chat</code>
          ).
        </p>
      </section>
    );
  }

  const send = (text: string, attachments: string[]) => {
    dispatch(messageSent({ localId: `local-${Date.now()}`, content: text, attachments }));
    const body = {
      message: text,
      session_id: active === NEW_SESSION ? undefined : active,
      attachments: attachments.length > 0 ? attachments : undefined,
    };
    running.current = startTurn(body, dispatch, socket, () => store.getState().chat.turn);
  };
  const remove = async (id: string) => {
    const result = await deleteSession(id);
    if (!result.error && id === active) void navigate("/chat");
  };

  return (
    <div className="chat-page">
      <aside className="card side-list" aria-label="Chat sessions">
        <button type="button" onClick={() => void navigate("/chat")}>
          New chat
        </button>
        <ul>
          {(sessions.data ?? []).map((session) => (
            <li key={session.session_id} className="session-item">
              <button
                type="button"
                className="button-link"
                aria-current={session.session_id === active}
                onClick={() => void navigate(`/chat/${session.session_id}`)}
              >
                {session.title || `Session ${session.session_id.slice(0, 8)}`}
              </button>
              <button
                type="button"
                className="button-quiet small"
                aria-label={`Delete session ${session.title || session.session_id}`}
                onClick={() => void remove(session.session_id)}
              >
                ✕
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <section className="card chat-main" aria-label="Conversation">
        <ol className="messages" ref={list} aria-live="polite">
          {messages.map((message) => (
            <Message key={message.id} message={message} />
          ))}
          {chat.turn && chat.turn.sessionKey === active && (
            <li className="message" data-role="assistant" data-streaming="true">
              {chat.turn.text ? (
                <Suspense fallback={<p>{chat.turn.text}</p>}>
                  <MarkdownView text={chat.turn.text} />
                </Suspense>
              ) : null}
              {chat.turn.typing && (
                <span className="typing" role="status" aria-label="The assistant is typing">
                  <span />
                  <span />
                  <span />
                </span>
              )}
            </li>
          )}
        </ol>
        {messages.length === 0 && !chat.turn && <p className="muted">Ask anything to start.</p>}
        <ErrorMessage message={chat.error ?? error} />
        <Composer onSend={send} onStop={() => running.current?.stop()} busy={chat.turn !== null} />
      </section>
    </div>
  );
}
