namespace Flotilla.Scheduling;

/// <summary>
/// The load balancer's side of stopping a task: take its target out of the pool for new requests, then wait until its
/// requests in flight are done or the deregistration delay has passed (ALB's deregistration, Envoy's draining).
/// </summary>
internal interface ITargetDrainer
{
    /// <summary>Returns how many requests were still in flight when it gave up (0 when drained).</summary>
    Task<int> DrainAsync(string service, string taskId, TimeSpan deregistrationDelay, CancellationToken cancellationToken);
}
