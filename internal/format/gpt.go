package format

// Partition tables. A disk with a legacy MBR (and so every GPT disk, which
// starts with a protective MBR) ends its first sector with 0x55 0xaa; four
// 16-byte partition entries start at 446: boot flag, start CHS, type, end
// CHS, start LBA u32, length u32 (little-endian). A FAT boot sector has the
// same signature and is not a partition table.
//
// A protective MBR holds one partition of type 0xee from LBA 1; the GPT
// header ("EFI PART") is at LBA 1, sector size 512 or 4096: header size u32
// at 12, own LBA u64 at 24, partition entry count u32 at 80 and entry size
// u32 at 84.
//
// Safety checks, named as in Glance: "mbr" checks the four entries as
// Glance does; "gpt" checks the GPT header a protective MBR announces.
//
// Regions read: the first sector and the GPT header.
func probeGPT(v *view, _ *Options) (status, *found) {
	b, st := v.read(0, 512)
	switch {
	case st == wait:
		return pending, nil
	case st == gone || b[510] != 0x55 || b[511] != 0xaa:
		return absent, nil
	case b[0x10] == 2 && b[0x15] == 0xf8:
		// A FAT file system's boot sector: two FATs on a fixed disk.
		return absent, nil
	}
	f := &found{format: "gpt", subformat: "mbr", streamSize: true}
	for i := range 4 {
		if b[446+16*i+4] == 0xee {
			f.subformat = "gpt"
		}
	}
	if !checkMBR(f, b) || f.subformat != "gpt" {
		return present, f
	}
	for _, sector := range []int64{512, 4096} {
		h, st := v.read(sector, 512)
		switch st {
		case wait:
			return pending, nil
		case have:
			if string(h[:8]) == "EFI PART" {
				checkGPTHeader(f, h, sector)
				return present, f
			}
		}
	}
	f.fail("gpt", "protective MBR without a GPT header")
	return present, f
}

// checkMBR applies Glance's checks to the partition entries and reports
// whether they passed.
func checkMBR(f *found, b []byte) bool {
	var used []int
	protective := false
	for i := range 4 {
		e := b[446+16*i:][:16]
		if e[0] != 0 && e[0] != 0x80 {
			f.fail("mbr", "MBR partition "+string(rune('0'+i))+" has an invalid boot flag")
			return false
		}
		if e[4] != 0 {
			used = append(used, i)
		}
		if e[4] == 0xee {
			protective = true
			if e[1] != 0 || e[2] != 2 || e[3] != 0 {
				f.fail("mbr", "GPT protective MBR has an invalid start CHS")
				return false
			}
			if le.Uint32(e[8:]) != 1 {
				f.fail("mbr", "GPT protective MBR has an invalid start LBA")
				return false
			}
		}
	}
	switch {
	case protective && (len(used) != 1 || used[0] != 0):
		f.fail("mbr", "GPT protective MBR defines other partitions")
		return false
	case len(used) == 0:
		f.fail("mbr", "MBR has no partitions defined")
		return false
	}
	return true
}

func checkGPTHeader(f *found, h []byte, sector int64) {
	size := int64(le.Uint32(h[12:]))
	entries, entrySize := int64(le.Uint32(h[80:])), int64(le.Uint32(h[84:]))
	switch {
	case size < 92 || size > sector:
		f.fail("gpt", "GPT header size is invalid")
	case le.Uint64(h[24:]) != 1:
		f.fail("gpt", "GPT header is not at LBA 1")
	case entrySize < 128 || entrySize > 1<<20 || entrySize&(entrySize-1) != 0 || entries > (16<<20)/entrySize:
		f.fail("gpt", "GPT partition entry array is out of range")
	}
}
