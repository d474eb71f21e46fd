module github.com/canswarm/swarmhost

go 1.26

require (
	github.com/gowebpki/jcs v1.0.2
	pgregory.net/rapid v1.3.0
)
