namespace Flotilla.Autoscaling;

/// <summary>Registers the autoscaler.</summary>
internal static class AutoscalingRegistration
{
    /// <summary>The <see cref="AutoscalerLoop"/>, as a singleton the API reads and as a hosted service.</summary>
    public static IServiceCollection AddFlotillaAutoscaler(this IServiceCollection services)
    {
        services.AddSingleton<AutoscalerLoop>();
        services.AddHostedService(sp => sp.GetRequiredService<AutoscalerLoop>());
        return services;
    }
}
