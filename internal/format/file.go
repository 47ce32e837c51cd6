package format

import (
	"errors"
	"io"
	"os"
)

// InspectFile inspects the file at path. It reads only as much as the
// inspection needs: the start of the file until every format has decided,
// then the last bytes.
func InspectFile(path string, o Options) (Result, error) {
	fh, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return Result{}, err
	}
	in := NewInspector(o)
	buf := make([]byte, 256<<10)
	var off int64
	for {
		if in.live == 0 && st.Mode().IsRegular() {
			// Nothing but the size and the tail matters any more.
			if skip := st.Size() - tailLen - off; skip > 0 {
				if _, err := fh.Seek(skip, io.SeekCurrent); err != nil {
					return Result{}, err
				}
				in.discard(skip)
				off += skip
			}
		}
		n, err := fh.Read(buf)
		in.Write(buf[:n])
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return in.Result(), nil
		}
		if err != nil {
			return Result{}, err
		}
	}
}
