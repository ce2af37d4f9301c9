-- Media, version 12: what a file's kind tells beyond its size, as JSON — a 3D model's vertex
-- and face counts and bounding box, a DICOM's frame count and modality. NULL for the files
-- imported before this version and for kinds with nothing more to say.
ALTER TABLE blobs ADD COLUMN details_json TEXT;
