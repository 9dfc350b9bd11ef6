-- expand: optional tags; old releases ignore the column (it has a default)
ALTER TABLE documents ADD COLUMN IF NOT EXISTS tags text[] NOT NULL DEFAULT '{}';
