// A read-only, S3-shaped HTTP server for benchmarks (bench/static-store.ts builds and starts it): it
// serves objects copied out of a MinIO, so that a GET costs the machine almost nothing on the store's
// side. The body goes out through http.ServeContent over an *os.File, which the net/http server sends
// with sendfile(2): no copy through user space, no per-byte work. That stands in for a store on
// another machine, leaving the client's cores free. Stdlib only; signatures are not checked.
//
// Layout of --dir: one object per pair of files, named by the SHA-256 (hex) of its request path
// "/<bucket>/<key>" (path style, decoded), so no key can name a file outside the folder:
//
//	<hash>       the stored bytes, exactly as MinIO returned them
//	<hash>.json  {"headers": {...}}: the HEAD response's headers to send back (ETag, Last-Modified,
//	             Content-Type, x-amz-meta-*, x-amz-version-id, …)
//
// Served: GET and HEAD of an object, with Range (one range, including a suffix "bytes=-N"), If-Match
// (412 PreconditionFailed), and what ServeContent does for If-None-Match / If-(Un)Modified-Since.
// Everything else is an S3 XML error: 404 NoSuchKey, 405 MethodNotAllowed, 416 InvalidRange.
//
// Usage: static-store --dir <folder> [--port 0]; prints "listening on 127.0.0.1:<port>".
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type store struct{ dir string }

// s3Error writes an S3-style error: XML body on GET, headers only on HEAD (as S3 does).
func s3Error(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Del("Content-Length")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	body := struct {
		XMLName  xml.Name `xml:"Error"`
		Code     string
		Message  string
		Resource string
	}{Code: code, Message: message, Resource: r.URL.Path}
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(body)
}

// s3Errors turns the plain-text errors of http.ServeContent (412, 416) into S3 XML errors. It keeps
// ReadFrom, so the body still goes out with sendfile.
type s3Errors struct {
	http.ResponseWriter
	r      *http.Request
	failed bool
}

func (e *s3Errors) WriteHeader(status int) {
	switch {
	case status == http.StatusRequestedRangeNotSatisfiable:
		e.failed = true
		s3Error(e.ResponseWriter, e.r, status, "InvalidRange", "The requested range is not satisfiable")
	case status == http.StatusPreconditionFailed:
		e.failed = true
		s3Error(e.ResponseWriter, e.r, status, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	default:
		e.ResponseWriter.WriteHeader(status)
	}
}

func (e *s3Errors) Write(b []byte) (int, error) {
	if e.failed {
		return len(b), nil // ServeContent's own text after an error we replaced
	}
	return e.ResponseWriter.Write(b)
}

func (e *s3Errors) ReadFrom(src io.Reader) (int64, error) {
	return io.Copy(e.ResponseWriter, src) // the server's ReadFrom: sendfile from an *os.File
}

// etagMatches is S3's If-Match: "*", or one of a comma-separated list of ETags, quotes optional.
func etagMatches(ifMatch, etag string) bool {
	for _, candidate := range strings.Split(ifMatch, ",") {
		candidate = strings.Trim(strings.TrimSpace(candidate), `"`)
		if candidate == "*" || candidate == strings.Trim(etag, `"`) {
			return true
		}
	}
	return false
}

func (s store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s3Error(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource")
		return
	}
	// The SDK adds ?x-id=GetObject; any other parameter (list, acl, partNumber, …) is not served.
	for name := range r.URL.Query() {
		if name != "x-id" {
			s3Error(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", "This static store serves GET and HEAD of objects only")
			return
		}
	}
	sum := sha256.Sum256([]byte(r.URL.Path))
	name := filepath.Join(s.dir, hex.EncodeToString(sum[:]))
	var meta struct{ Headers map[string]string }
	raw, err := os.ReadFile(name + ".json")
	if err == nil {
		err = json.Unmarshal(raw, &meta)
	}
	file, openErr := os.Open(name)
	if err != nil || openErr != nil {
		s3Error(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	defer file.Close()
	for key, value := range meta.Headers {
		w.Header().Set(key, value)
	}
	etag := w.Header().Get("ETag")
	if ifMatch := r.Header.Get("If-Match"); ifMatch != "" {
		if !etagMatches(ifMatch, etag) {
			s3Error(w, r, http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
			return
		}
		r.Header.Del("If-Match") // decided here, by S3's rule, not again by ServeContent's
	}
	modified, _ := http.ParseTime(w.Header().Get("Last-Modified")) // zero time: no Last-Modified check
	// Sets Content-Length, Accept-Ranges, Content-Range; answers 206 for one range, 416 for none.
	http.ServeContent(&s3Errors{ResponseWriter: w, r: r}, r, "", modified, file)
}

func main() {
	dir := flag.String("dir", "", "folder of objects and their .json sidecars")
	port := flag.Int("port", 0, "port on 127.0.0.1; 0 picks a free one")
	flag.Parse()
	if *dir == "" {
		log.Fatal("--dir is required")
	}
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", listener.Addr())
	server := &http.Server{Handler: store{dir: *dir}, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.Serve(listener))
}
