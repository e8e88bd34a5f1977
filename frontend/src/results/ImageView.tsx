import { useEffect, useState } from "react";
import { fetchBlob } from "../api/client";
import { stringField } from "./text";

/** An Image output: inline base64 data, or a stored file fetched with the caller's credentials. */
export function ImageView({ image }: { image: Record<string, unknown> }) {
  const mediaType = stringField(image, "media_type", "image/png");
  const alt = stringField(image, "alt", "image output");
  const inline = typeof image.data === "string" ? `data:${mediaType};base64,${image.data}` : null;
  const fileId = typeof image.file_id === "string" ? image.file_id : null;
  const [src, setSrc] = useState<string | null>(inline);

  useEffect(() => {
    if (inline || !fileId) return;
    let url: string | null = null;
    void fetchBlob(`files/${encodeURIComponent(fileId)}`).then((blob) => {
      url = URL.createObjectURL(blob);
      setSrc(url);
    });
    return () => {
      if (url) URL.revokeObjectURL(url);
    };
  }, [inline, fileId]);

  return <figure className="image-view">{src && <img src={src} alt={alt} />}</figure>;
}
