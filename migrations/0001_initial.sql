-- Placeholder: the store issue defines schema v1 here.
CREATE TABLE placeholder (id INTEGER PRIMARY KEY);
