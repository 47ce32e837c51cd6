-- Glance's schema at its 25.1 head (revision wallaby_contract01) on MySQL /
-- MariaDB, as `glance-manage db_sync` leaves it; the alembic_version row is
-- written by the caller.
--
-- Glance's models ask for mysql_charset='utf8', which is utf8mb3 (3-byte
-- UTF-8) on MariaDB 10.x and MySQL 8; it is spelled out here so that the
-- tables stay utf8mb3 where utf8 has come to mean utf8mb4. The collation
-- is the charset's default, as in Glance.
--
-- Booleans are BOOL (tinyint(1)) with a CHECK (col IN (0, 1)) each, which
-- SQLAlchemy added for Boolean columns when Glance's migrations ran. Those
-- CHECKs are unnamed, so MariaDB numbers them CONSTRAINT_1, CONSTRAINT_2, ...
-- per table in the order they appear (MySQL 8 names them <table>_chk_<n>),
-- except in images: see there.
--
-- Foreign keys are unnamed too (MariaDB names them <table>_ibfk_<n>);
-- primary keys are always PRIMARY here. Each foreign key column has its own
-- index created after the table, which takes over from the index the FOREIGN
-- KEY clause makes implicitly, as happened in Glance.

-- As Alembic creates it: no engine or charset of its own, so the server's
-- default engine and the database's default charset (MariaDB ignores the
-- primary key's name and calls it PRIMARY).
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- In Glance's history images first had a third boolean, is_public, whose
-- CHECK came first and was CONSTRAINT_1; dropping the column dropped that
-- CHECK and left CONSTRAINT_2 and CONSTRAINT_3. A fresh table would number
-- the remaining two from 1, so they are named explicitly.
CREATE TABLE images (
	id VARCHAR(36) NOT NULL,
	name VARCHAR(255),
	size BIGINT,
	status VARCHAR(30) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOL NOT NULL,
	disk_format VARCHAR(20),
	container_format VARCHAR(20),
	checksum VARCHAR(32),
	owner VARCHAR(255),
	min_disk INTEGER NOT NULL,
	min_ram INTEGER NOT NULL,
	protected BOOL NOT NULL DEFAULT false,
	virtual_size BIGINT,
	visibility ENUM('private','public','shared','community') NOT NULL DEFAULT 'shared',
	os_hidden BOOL NOT NULL DEFAULT false,
	os_hash_algo VARCHAR(64),
	os_hash_value VARCHAR(128),
	PRIMARY KEY (id),
	CONSTRAINT CONSTRAINT_2 CHECK (deleted IN (0, 1)),
	CONSTRAINT CONSTRAINT_3 CHECK (protected IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX checksum_image_idx ON images (checksum);
CREATE INDEX ix_images_deleted ON images (deleted);
CREATE INDEX owner_image_idx ON images (owner);
CREATE INDEX created_at_image_idx ON images (created_at);
CREATE INDEX updated_at_image_idx ON images (updated_at);
CREATE INDEX visibility_image_idx ON images (visibility);
CREATE INDEX os_hidden_image_idx ON images (os_hidden);
CREATE INDEX os_hash_value_image_idx ON images (os_hash_value);

CREATE TABLE image_properties (
	id INTEGER NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	name VARCHAR(255) NOT NULL,
	value TEXT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOL NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY (image_id) REFERENCES images (id),
	CONSTRAINT ix_image_properties_image_id_name UNIQUE (image_id, name),
	CHECK (deleted IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_image_properties_deleted ON image_properties (deleted);
CREATE INDEX ix_image_properties_image_id ON image_properties (image_id);

CREATE TABLE image_locations (
	id INTEGER NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	value TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOL NOT NULL,
	meta_data TEXT,
	status VARCHAR(30) NOT NULL DEFAULT 'active',
	PRIMARY KEY (id),
	FOREIGN KEY (image_id) REFERENCES images (id),
	CHECK (deleted IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_image_locations_deleted ON image_locations (deleted);
CREATE INDEX ix_image_locations_image_id ON image_locations (image_id);

CREATE TABLE image_members (
	id INTEGER NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	member VARCHAR(255) NOT NULL,
	can_share BOOL NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOL NOT NULL,
	status VARCHAR(20) NOT NULL DEFAULT 'pending',
	PRIMARY KEY (id),
	FOREIGN KEY (image_id) REFERENCES images (id),
	CONSTRAINT image_members_image_id_member_deleted_at_key UNIQUE (image_id, member, deleted_at),
	CHECK (can_share IN (0, 1)),
	CHECK (deleted IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_image_members_deleted ON image_members (deleted);
CREATE INDEX ix_image_members_image_id ON image_members (image_id);
CREATE INDEX ix_image_members_image_id_member ON image_members (image_id, member);

CREATE TABLE image_tags (
	id INTEGER NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	value VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOL NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY (image_id) REFERENCES images (id),
	CHECK (deleted IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_image_tags_image_id ON image_tags (image_id);
CREATE INDEX ix_image_tags_image_id_tag_value ON image_tags (image_id, value);

CREATE TABLE tasks (
	id VARCHAR(36) NOT NULL,
	type VARCHAR(30) NOT NULL,
	status VARCHAR(30) NOT NULL,
	owner VARCHAR(255) NOT NULL,
	expires_at DATETIME,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	deleted_at DATETIME,
	deleted BOOL NOT NULL,
	image_id VARCHAR(36),
	request_id VARCHAR(64),
	user_id VARCHAR(64),
	PRIMARY KEY (id),
	CHECK (deleted IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_tasks_deleted ON tasks (deleted);
CREATE INDEX ix_tasks_owner ON tasks (owner);
CREATE INDEX ix_tasks_status ON tasks (status);
CREATE INDEX ix_tasks_type ON tasks (type);
CREATE INDEX ix_tasks_updated_at ON tasks (updated_at);
CREATE INDEX ix_tasks_image_id ON tasks (image_id);

CREATE TABLE task_info (
	task_id VARCHAR(36) NOT NULL,
	input TEXT,
	result TEXT,
	message TEXT,
	PRIMARY KEY (task_id),
	FOREIGN KEY (task_id) REFERENCES tasks (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;

CREATE TABLE metadef_namespaces (
	id INTEGER NOT NULL AUTO_INCREMENT,
	namespace VARCHAR(80) NOT NULL,
	display_name VARCHAR(80),
	description TEXT,
	visibility VARCHAR(32),
	protected BOOL,
	owner VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	CONSTRAINT uq_metadef_namespaces_namespace UNIQUE (namespace),
	CHECK (protected IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_metadef_namespaces_owner ON metadef_namespaces (owner);

CREATE TABLE metadef_resource_types (
	id INTEGER NOT NULL AUTO_INCREMENT,
	name VARCHAR(80) NOT NULL,
	protected BOOL NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	CONSTRAINT uq_metadef_resource_types_name UNIQUE (name),
	CHECK (protected IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;

CREATE TABLE metadef_namespace_resource_types (
	resource_type_id INTEGER NOT NULL,
	namespace_id INTEGER NOT NULL,
	properties_target VARCHAR(80),
	prefix VARCHAR(80),
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (resource_type_id, namespace_id),
	FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id),
	FOREIGN KEY (resource_type_id) REFERENCES metadef_resource_types (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_metadef_ns_res_types_namespace_id ON metadef_namespace_resource_types (namespace_id);

CREATE TABLE metadef_objects (
	id INTEGER NOT NULL AUTO_INCREMENT,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	description TEXT,
	required TEXT,
	json_schema TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id),
	CONSTRAINT uq_metadef_objects_namespace_id_name UNIQUE (namespace_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_metadef_objects_name ON metadef_objects (name);

CREATE TABLE metadef_properties (
	id INTEGER NOT NULL AUTO_INCREMENT,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	json_schema TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id),
	CONSTRAINT uq_metadef_properties_namespace_id_name UNIQUE (namespace_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_metadef_properties_name ON metadef_properties (name);

CREATE TABLE metadef_tags (
	id INTEGER NOT NULL AUTO_INCREMENT,
	namespace_id INTEGER NOT NULL,
	name VARCHAR(80) NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME,
	PRIMARY KEY (id),
	FOREIGN KEY (namespace_id) REFERENCES metadef_namespaces (id),
	CONSTRAINT uq_metadef_tags_namespace_id_name UNIQUE (namespace_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
CREATE INDEX ix_metadef_tags_name ON metadef_tags (name);
