using System.Collections.Immutable;

namespace Flotilla.Core.Autoscaling;

/// <summary>What a policy sees at one evaluation.</summary>
/// <param name="Inputs">The figures the gatherer read.</param>
/// <param name="PreviousEvaluation">When the autoscaler last evaluated this service; null at the first evaluation.</param>
/// <param name="StepBase">
/// The count a relative (step) adjustment adds to: the count before the last scale-out while its cooldown lasts (so one
/// breach does not add twice), the desired count otherwise.
/// </param>
/// <param name="Datapoints">This policy's values at earlier evaluations, oldest first (step policies' "M of N").</param>
public sealed record ScalingContext(ScalingInputs Inputs, DateTimeOffset? PreviousEvaluation, int StepBase, ImmutableArray<double?> Datapoints)
{
    /// <summary>The desired count now.</summary>
    public int Desired => Inputs.Desired;
}

/// <summary>
/// A scaling policy: from the figures of one evaluation, a wish for the service's count. Pure: the same context gives
/// the same wish. The <see cref="AutoscalerDecider"/> combines the wishes of a service's policies.
/// </summary>
public interface IScalingPolicy
{
    /// <summary>The policy's name in the spec, used in events.</summary>
    string Name { get; }

    /// <summary>Its kind's name (<see cref="ScalingPolicies"/>).</summary>
    string Kind { get; }

    /// <summary>The metric it reads, if any, so that the gatherer knows what to read.</summary>
    ScalingMetric? Metric { get; }

    /// <summary>Its wish at this evaluation.</summary>
    PolicyWish Evaluate(ScalingContext context);
}
