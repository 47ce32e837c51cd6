-- Glance's revision 2024_1_expand01 on MySQL / MariaDB: the image cache's
-- tables, as SQLAlchemy renders that migration. Its ids are BigInteger
-- (bigint(20) AUTO_INCREMENT), unlike the INTEGER ids of the older tables;
-- the charset is utf8mb3 as in schema_mysql.sql, and the foreign key is
-- unnamed (MariaDB calls it cached_images_ibfk_1). No column here is a
-- boolean, so there is no CHECK.

CREATE TABLE node_reference (
	node_reference_id BIGINT NOT NULL AUTO_INCREMENT,
	node_reference_url VARCHAR(255) NOT NULL,
	PRIMARY KEY (node_reference_id),
	CONSTRAINT uq_node_reference_node_reference_url UNIQUE (node_reference_url)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;

-- The unique key (node_reference_id is its second column) does not cover
-- the foreign key, so MariaDB adds an index named node_reference_id for it,
-- as it did under Glance's migration.
CREATE TABLE cached_images (
	id BIGINT NOT NULL AUTO_INCREMENT,
	image_id VARCHAR(36) NOT NULL,
	last_accessed DATETIME NOT NULL,
	last_modified DATETIME NOT NULL,
	size BIGINT NOT NULL,
	hits INTEGER NOT NULL,
	checksum VARCHAR(32),
	node_reference_id BIGINT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY (node_reference_id) REFERENCES node_reference (node_reference_id),
	CONSTRAINT ix_cached_images_image_id_node_reference_id UNIQUE (image_id, node_reference_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb3;
