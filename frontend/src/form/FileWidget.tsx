// The upload widget for file fields: drop a file (or pick one), watch it upload to
// POST /api/v1/files, and the field takes the returned file_id.
import type { WidgetProps } from "@rjsf/utils";
import { useEffect, useRef, useState, type DragEvent } from "react";
import { errorMessage } from "../api/client";
import type { FileInfo } from "../api/types";
import { formatBytes, uploadFile, type Upload } from "../features/files/upload";
import { ErrorMessage } from "../components/ErrorMessage";

const KNOWN_KEY = "nanobrain.files";

/** Names of files uploaded in this browser session, so a restored draft still shows them. */
function knownFiles(): Record<string, Pick<FileInfo, "filename" | "size">> {
  try {
    return JSON.parse(sessionStorage.getItem(KNOWN_KEY) ?? "{}") as Record<
      string,
      Pick<FileInfo, "filename" | "size">
    >;
  } catch {
    return {};
  }
}

function remember(info: FileInfo): void {
  const known = knownFiles();
  known[info.file_id] = { filename: info.filename, size: info.size };
  try {
    sessionStorage.setItem(KNOWN_KEY, JSON.stringify(known));
  } catch {
    // storage full or disabled: the field still holds the id
  }
}

export function FileWidget({
  id,
  value,
  onChange,
  disabled,
  readonly,
  label,
  required,
}: WidgetProps) {
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const upload = useRef<Upload | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const fileId = typeof value === "string" && value ? value : null;
  const known = fileId ? knownFiles()[fileId] : undefined;

  useEffect(() => () => upload.current?.abort(), []);

  const start = (file: File) => {
    setError(null);
    setProgress(0);
    const started = uploadFile(file, setProgress);
    upload.current = started;
    started.promise.then(
      (info) => {
        remember(info);
        setProgress(null);
        onChange(info.file_id);
      },
      (caught: unknown) => {
        setProgress(null);
        setError(errorMessage(caught));
      },
    );
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const file = event.dataTransfer.files[0];
    if (file && !disabled && !readonly) start(file);
  };

  const busy = progress !== null;
  return (
    <div
      className="dropzone"
      data-dragging={dragging}
      data-testid={`file-${id}`}
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <input
        ref={input}
        id={id}
        type="file"
        className="visually-hidden"
        aria-label={label || "file"}
        aria-required={required}
        disabled={disabled || readonly || busy}
        onChange={(event) => {
          const file = event.target.files?.[0];
          if (file) start(file);
          event.target.value = "";
        }}
      />
      {fileId && !busy ? (
        <p className="file-chosen">
          <strong>{known?.filename ?? `file ${fileId.slice(0, 8)}…`}</strong>
          {known && <span className="muted"> {formatBytes(known.size)}</span>}
          <span className="muted"> uploaded</span>{" "}
          <button type="button" className="button-link" onClick={() => onChange(undefined)}>
            Remove
          </button>
        </p>
      ) : (
        <p>
          Drop a file here or{" "}
          <button
            type="button"
            className="button-link"
            disabled={disabled || readonly || busy}
            onClick={() => input.current?.click()}
          >
            choose one
          </button>
        </p>
      )}
      {busy && (
        <div className="upload-progress">
          <progress max={1} value={progress} aria-label="Upload progress" />
          <span>{Math.round((progress ?? 0) * 100)}%</span>
          <button type="button" className="button-link" onClick={() => upload.current?.abort()}>
            Cancel upload
          </button>
        </div>
      )}
      <ErrorMessage message={error} />
    </div>
  );
}
