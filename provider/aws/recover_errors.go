package aws

import (
	"context"
	"errors"
	"fmt"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/pilotlight/pilotlight/runbook"
)

// ErrNotSupported is returned (fatal) by the parts of recovery.Provider
// that have no AWS implementation yet.
var ErrNotSupported = errors.New("not supported on the aws provider yet")

// AWS error codes by the runbook class they get.
var (
	throttleCodes = codes("RequestLimitExceeded", "Throttling", "ThrottlingException", "TooManyRequestsException",
		"PriorRequestNotComplete", "RequestThrottled", "RequestThrottledException", "SlowDown")
	capacityCodes = codes("InsufficientInstanceCapacity", "InstanceLimitExceeded", "InsufficientCapacity",
		"InsufficientHostCapacity", "InsufficientReservedInstanceCapacity", "VcpuLimitExceeded",
		"InsufficientDBInstanceCapacity", "InsufficientDBInstanceCapacityFault", "InsufficientVolumeCapacity")
	// notFoundCodes are what EC2, RDS and ELBv2 answer for an ID they do
	// not know, which is also what they answer for a while right after the
	// ID was created (eventual consistency).
	notFoundCodes = codes("InvalidInstanceID.NotFound", "InvalidVolume.NotFound", "InvalidSnapshot.NotFound",
		"DBInstanceNotFound", "DBInstanceNotFoundFault", "DBClusterNotFoundFault", "DBSnapshotNotFound",
		"TargetGroupNotFound", "LoadBalancerNotFound", "ListenerNotFound", "InvalidTarget")
	transientCodes = codes("InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable",
		"Unavailable", "RequestTimeout", "RequestTimeoutException", "IncorrectInstanceState", "IncorrectState",
		"InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBClusterStateFault", "ResourceInUse",
		"ScalingActivityInProgress", "ScalingActivityInProgressFault", "ResourceContention", "ResourceContentionFault")
)

func codes(cs ...string) map[string]bool {
	m := make(map[string]bool, len(cs))
	for _, c := range cs {
		m[c] = true
	}
	return m
}

// classify gives an SDK error the runbook class the engine acts on:
// throttling codes are Throttled (retried with backoff), capacity codes are
// Capacity (the step falls back to its next instance type), unknown IDs
// are NotFound, server-side and state-in-transition codes and failures to
// reach AWS are Transient; everything else (access denied, invalid
// parameters, quotas that no retry fixes) is Fatal. nil and context errors
// are returned as they are.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if runbook.Classify(err) != runbook.ClassFatal {
		return err // already classed (such as a capacity.InsufficientCapacityError)
	}
	code := errorCode(err)
	switch {
	case throttleCodes[code]:
		return runbook.Throttled(err)
	case capacityCodes[code]:
		return runbook.Capacity(err)
	case notFoundCodes[code]:
		return runbook.NotFound(err)
	case transientCodes[code]:
		return runbook.Transient(err)
	case code == "":
		var send *smithyhttp.RequestSendError
		if errors.As(err, &send) {
			return runbook.Transient(err)
		}
	}
	return runbook.Fatal(err)
}

// classifyAfterCreate is classify for a call about an ID this recovery has
// just created: "not found" means not visible yet, and is retried.
func classifyAfterCreate(err error) error {
	if err != nil && notFoundCodes[errorCode(err)] {
		return runbook.Transient(err)
	}
	return classify(err)
}

// isNotFound reports whether err is AWS's answer for an unknown ID.
func isNotFound(err error) bool { return notFoundCodes[errorCode(err)] }

// callError is the error of call op on target: "aws: <op> <target>: <err>",
// classed for the engine.
func callError(op, target string, err error) error {
	return classify(fmt.Errorf("aws: %s %s: %w", op, target, err))
}
