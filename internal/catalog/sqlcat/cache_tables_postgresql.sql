-- Glance's revision 2024_1_expand01 on PostgreSQL: the image cache's
-- tables, as SQLAlchemy renders that migration. Its ids are BigInteger
-- autoincrement primary keys, so BIGSERIAL (a bigint column with an owned
-- sequence <table>_<column>_seq), unlike the SERIAL ids of the older tables.

CREATE TABLE node_reference (
	node_reference_id BIGSERIAL NOT NULL,
	node_reference_url VARCHAR(255) NOT NULL,
	PRIMARY KEY (node_reference_id),
	CONSTRAINT uq_node_reference_node_reference_url UNIQUE (node_reference_url)
);

CREATE TABLE cached_images (
	id BIGSERIAL NOT NULL,
	image_id VARCHAR(36) NOT NULL,
	last_accessed TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	last_modified TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	size BIGINT NOT NULL,
	hits INTEGER NOT NULL,
	checksum VARCHAR(32),
	node_reference_id BIGINT NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY (node_reference_id) REFERENCES node_reference (node_reference_id),
	CONSTRAINT ix_cached_images_image_id_node_reference_id UNIQUE (image_id, node_reference_id)
);
