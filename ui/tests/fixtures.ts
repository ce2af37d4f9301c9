import type { GalleryItem, Kind } from '../src/lib/bindings';

export function docAt(n: number, captured: string | null, kind: Kind = 'intraoral'): GalleryItem {
  return {
    id: `doc-${n}`,
    sha256: n.toString(16).padStart(64, '0'),
    kind,
    status: 'active',
    mime: 'image/jpeg',
    byte_size: 1000,
    width: 4000,
    height: 3000,
    captured_at: captured,
    original_filename: `IMG_${n}.JPG`,
    teeth: null,
    version: 1,
    previews: [],
  };
}
