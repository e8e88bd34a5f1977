import { useState } from "react";
import { errorMessage, fetchBlob, saveBlob } from "../api/client";
import { formatBytes } from "../features/files/upload";
import { ErrorMessage } from "../components/ErrorMessage";
import { stringField } from "./text";

/** A File output: its name and size, and a download with the caller's credentials. */
export function FileView({ file }: { file: Record<string, unknown> }) {
  const [error, setError] = useState<string | null>(null);
  const id = stringField(file, "file_id", "");
  const name = stringField(file, "filename", id);
  const download = () =>
    fetchBlob(`files/${encodeURIComponent(id)}`).then(
      (blob) => saveBlob(blob, name),
      (caught: unknown) => setError(errorMessage(caught)),
    );
  return (
    <div className="file-view">
      <span>{name}</span>
      {typeof file.size === "number" && (
        <span className="muted"> {formatBytes(file.size)}</span>
      )}{" "}
      <button type="button" onClick={() => void download()}>
        Download
      </button>
      <ErrorMessage message={error} />
    </div>
  );
}
