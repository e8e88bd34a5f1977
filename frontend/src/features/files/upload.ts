// File upload with progress. fetch() cannot report upload progress, XMLHttpRequest can.
import { ApiError, apiUrl, authHeaders } from "../../api/client";
import type { FileInfo, Problem } from "../../api/types";

export interface Upload {
  promise: Promise<FileInfo>;
  abort(): void;
}

export function uploadFile(file: File, onProgress: (fraction: number) => void): Upload {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<FileInfo>((resolve, reject) => {
    void authHeaders().then((headers) => {
      xhr.open("POST", apiUrl("files"));
      xhr.setRequestHeader("Accept", "application/json");
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => {
        let body: unknown;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(body as FileInfo);
        } else {
          const problem = (body ?? {}) as Partial<Problem>;
          reject(new ApiError({ ...problem, status: xhr.status }));
        }
      };
      xhr.onerror = () => reject(new Error("the upload failed: the server could not be reached"));
      xhr.onabort = () => reject(new Error("the upload was cancelled"));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    }, reject);
  });
  return { promise, abort: () => xhr.abort() };
}

/** Sizes as people read them: 1.2 MB, 512 B. */
export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
