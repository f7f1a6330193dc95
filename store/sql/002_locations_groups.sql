-- Locations: a tree (site → building → floor/suite/unit/area). A common
-- area is open to everyone with access to its parent; a private one only to
-- those granted it (or an ancestor).
CREATE TABLE locations (
    id         INTEGER PRIMARY KEY,
    parent_id  INTEGER REFERENCES locations(id),
    name       TEXT NOT NULL,
    path       TEXT NOT NULL,         -- "Tower A/Floor 2/Suite 201", as given
    path_key   TEXT NOT NULL UNIQUE,  -- lower-cased path: unique case-insensitively
    common     INTEGER NOT NULL DEFAULT 0,
    aliases    TEXT NOT NULL DEFAULT '', -- extra names found in mail, one per line ("S201", "201")
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX locations_parent ON locations(parent_id);

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE group_members (
    group_id  INTEGER NOT NULL REFERENCES groups(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, person_id)
);
CREATE INDEX group_members_person ON group_members(person_id);

-- A grant gives a person or a group a location (and what is under it), or
-- everything (location_id NULL, all_locations 1).
CREATE TABLE grants (
    id            INTEGER PRIMARY KEY,
    person_id     INTEGER REFERENCES people(id),
    group_id      INTEGER REFERENCES groups(id),
    location_id   INTEGER REFERENCES locations(id),
    all_locations INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL,
    CHECK ((person_id IS NULL) <> (group_id IS NULL)),
    CHECK ((location_id IS NULL) <> (all_locations = 0))
);
CREATE INDEX grants_person ON grants(person_id);
CREATE INDEX grants_group ON grants(group_id);

CREATE TABLE labels (
    request_id INTEGER NOT NULL REFERENCES requests(id),
    name       TEXT NOT NULL,
    PRIMARY KEY (request_id, name)
);
